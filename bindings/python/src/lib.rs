//! Python binding of mentorflow (being built).
