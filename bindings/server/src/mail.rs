//! E-mail: where the portal's own messages (sign-in links) and the outbox's notifications
//! go. Transports: `log` (printed on standard output: the demo and development), `file`
//! (one `.eml` file per message in a folder).

use std::path::PathBuf;

use mentorflow::Person;

use crate::App;

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Printed on standard output.
    Log,
    /// One `.eml` file per message in this folder.
    File(PathBuf),
}

/// One message.
#[derive(Debug, Clone)]
pub struct Message {
    pub to_name: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Stable id (the outbox id for notifications): the Message-ID and the file name.
    pub id: String,
}

/// Deliver one message (blocking).
pub fn deliver(transport: &Transport, from: &str, m: &Message) -> Result<(), String> {
    match transport {
        Transport::Log => {
            println!(
                "mail to {} <{}>: {}\n{}\n",
                m.to_name, m.to, m.subject, m.body
            );
            Ok(())
        }
        Transport::File(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let file = dir.join(format!(
                "{}.eml",
                m.id.replace(['/', '\\', '@', '<', '>'], "_")
            ));
            let text = format!(
                "From: {from}\r\nTo: {} <{}>\r\nSubject: {}\r\nMessage-ID: <{}@mentorflow>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
                m.to_name, m.to, m.subject, m.id, m.body.replace('\n', "\r\n")
            );
            std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))
        }
    }
}

/// Send a sign-in link to a person (failures are logged: the page says the same either way).
pub async fn send_sign_in(app: &App, person: &Person, url: &str) {
    let Some(to) = person.email.clone() else {
        return;
    };
    let m = Message {
        to_name: person.name.clone().unwrap_or_else(|| person.id.clone()),
        to,
        subject: "Your sign-in link".into(),
        body: format!(
            "Hello {},\n\nFollow this link to sign in to the mentoring portal:\n\n{url}\n\nIt works once, for {} minutes. If you did not ask for it, ignore this e-mail.\n",
            person.name.clone().unwrap_or_else(|| person.id.clone()),
            app.config().sign_in_ttl.num_minutes()
        ),
        id: format!("sign-in-{}", crate::auth::secret()),
    };
    let transport = app.config().mail.clone();
    let from = app.config().mail_from.clone();
    match tokio::task::spawn_blocking(move || deliver(&transport, &from, &m)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("sign-in mail to {}: {e}", person.id),
        Err(e) => tracing::error!("sign-in mail task: {e}"),
    }
}
