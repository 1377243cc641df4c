//! An instance's peak resident memory, as Linux reports it (`VmHWM` in `/proc/<pid>/status`):
//! what Lambda's REPORT line calls "Max Memory Used", to set against the template's `MemorySize`.

/// The peak resident set of a live process in bytes; `None` once it has exited (or off Linux).
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_hwm_in_bytes() {
        let status = "Name:\tauth\nVmPeak:\t  20000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(5 * 1024 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn this_process_has_a_peak() {
        let peak = peak_rss_bytes(std::process::id()).expect("Linux /proc");
        assert!(peak > 1024 * 1024, "{peak}");
    }
}
