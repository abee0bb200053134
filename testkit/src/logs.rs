//! Capturing a test process's logs, to assert on what was (or was not)
//! logged.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use pagesmith::telemetry::LogFormat;

/// Every byte the process logged since [`CapturedLogs::install`].
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the process's subscriber (once per process: give the test
    /// its own test binary), writing `format` at `filter` here.
    pub fn install(format: LogFormat, filter: &str) -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        pagesmith::telemetry::init_to(format, filter, move || writer.clone());
        logs
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }

    /// The JSON events logged so far (with `LogFormat::Json`).
    pub fn json_events(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
