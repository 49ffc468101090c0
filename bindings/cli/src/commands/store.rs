//! `mentorflow store copy --from A --to B`: copy a whole database into an empty one on
//! another backend ([`mentorflow::store::copy::copy`]); one line per table with its rows, then
//! the total. The source is only read; the target is written in one transaction, or not at
//! all.

use serde_json::json;

use super::Ctx;
use crate::args::{StoreArgs, StoreCommand};
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: StoreArgs) -> Result<(), CliError> {
    match a.command {
        StoreCommand::Copy(c) => {
            let report = mentorflow::store::copy::copy(&c.from, &c.to)?;
            let out = &ctx.out;
            let from = mentorflow::store::redact(&c.from);
            let to = mentorflow::store::redact(&c.to);
            if out.json {
                let tables: serde_json::Map<String, serde_json::Value> = report
                    .tables
                    .iter()
                    .map(|(t, n)| (t.clone(), json!(n)))
                    .collect();
                return out.print_json(&json!({
                    "from": from,
                    "to": to,
                    "tables": tables,
                    "rows": report.rows(),
                }));
            }
            let rows: Vec<Vec<String>> = report
                .tables
                .iter()
                .map(|(t, n)| vec![t.clone(), n.to_string()])
                .collect();
            output::print(&output::table(&["table", "rows"], &rows, out));
            output::line(&format!(
                "copied {} row{} from {from} to {to}",
                report.rows(),
                output::plural(report.rows())
            ));
            Ok(())
        }
    }
}
