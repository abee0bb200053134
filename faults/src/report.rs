//! The table the suite prints (and RELIABILITY.md keeps).

use std::time::Duration;

use crate::ledger::Tally;

/// One scenario's line.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: &'static str,
    /// The load it held, in words.
    pub load: String,
    /// The faults it injected, in words, with what was observed meanwhile.
    pub faults: String,
    pub tally: Tally,
    pub took: Duration,
}

impl Row {
    pub fn passed(&self) -> bool {
        self.tally.passed()
    }
}

pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | load | faults injected (observed) | accepted | completed | failed with reason | lost | duplicated | late | min deadline margin | took |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        let t = &row.tally;
        let margin = t
            .min_margin
            .map_or("–".to_owned(), |m| format!("{:.1} s", m.as_secs_f64()));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s |\n",
            row.scenario,
            row.load,
            row.faults,
            t.accepted,
            t.completed,
            t.failed,
            t.lost,
            t.duplicated,
            t.late,
            margin,
            row.took.as_secs_f64()
        ));
    }
    out
}
