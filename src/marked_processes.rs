//! Processes marked in their environment, so a whole tree can be found and
//! killed: Chromium's helpers outlive a killed parent (they are re-parented
//! to PID 1), but every child inherits the environment.

/// The environment variable that marks a browser's processes.
pub const MARKER_VAR: &str = "PAGESMITH_BROWSER";

/// Sends SIGKILL to every process whose environment carries
/// `PAGESMITH_BROWSER=<marker>`; returns how many there were.
pub fn kill_marked(marker: &str) -> usize {
    let wanted = format!("{MARKER_VAR}={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        // A zombie's environment reads empty: nothing to kill there.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes())
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            killed += 1;
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_process_is_killed_and_others_are_not() {
        let marker = format!("test-{}", std::process::id());
        let mut marked = std::process::Command::new("sleep")
            .arg("30")
            .env(MARKER_VAR, &marker)
            .spawn()
            .unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        // The child's environment shows in /proc once it has exec'd; on a
        // loaded machine that can trail `spawn` returning.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let killed = loop {
            let killed = kill_marked(&marker);
            if killed > 0 || std::time::Instant::now() > deadline {
                break killed;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert_eq!(killed, 1);
        let status = marked.wait().unwrap();
        assert!(!status.success(), "killed: {status}");
        assert!(
            other.try_wait().unwrap().is_none(),
            "the unmarked one runs on"
        );
        other.kill().unwrap();
        let _ = other.wait();
    }
}
