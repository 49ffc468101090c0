fn main() {
    eprintln!("mentorflow: the command line is being built");
    std::process::exit(2);
}
