//! The built-in series of Debian and Ubuntu, newest first, with the versions and statuses
//! Launchpad gives them as of early 2026. They serve an archive without `series.json` and
//! the synthetic histories, so that series look real without a file saying so.

/// Launchpad's series statuses (`SeriesStatus` titles).
pub(crate) const STATUSES: [&str; 7] = [
    "Experimental",
    "Active Development",
    "Pre-release Freeze",
    "Current Stable Release",
    "Supported",
    "Obsolete",
    "Future",
];

/// The statuses Launchpad counts as `active`.
pub(crate) fn is_active(status: &str) -> bool {
    matches!(
        status,
        "Active Development" | "Pre-release Freeze" | "Current Stable Release" | "Supported"
    )
}

/// The statuses Launchpad counts as `supported`.
pub(crate) fn is_supported(status: &str) -> bool {
    matches!(status, "Current Stable Release" | "Supported")
}

/// A known series: name, version, status.
pub(crate) type Known = (&'static str, Option<&'static str>, &'static str);

/// Debian, newest first.
pub(crate) const DEBIAN: &[Known] = &[
    ("experimental", None, "Experimental"),
    ("sid", None, "Active Development"),
    ("forky", Some("14"), "Future"),
    ("trixie", Some("13"), "Current Stable Release"),
    ("bookworm", Some("12"), "Supported"),
    ("bullseye", Some("11"), "Supported"),
    ("buster", Some("10"), "Obsolete"),
    ("stretch", Some("9"), "Obsolete"),
    ("jessie", Some("8"), "Obsolete"),
    ("wheezy", Some("7.0"), "Obsolete"),
    ("squeeze", Some("6.0"), "Obsolete"),
    ("lenny", Some("5.0"), "Obsolete"),
    ("etch", Some("4.0"), "Obsolete"),
    ("sarge", Some("3.1"), "Obsolete"),
    ("woody", Some("3.0"), "Obsolete"),
    ("potato", Some("2.2"), "Obsolete"),
    ("slink", Some("2.1"), "Obsolete"),
    ("hamm", Some("2.0"), "Obsolete"),
    ("bo", Some("1.3"), "Obsolete"),
    ("rex", Some("1.2"), "Obsolete"),
    ("buzz", Some("1.1"), "Obsolete"),
];

/// Ubuntu, newest first. The LTS releases under extended security maintenance stay
/// `Supported` on Launchpad.
pub(crate) const UBUNTU: &[Known] = &[
    ("resolute", Some("26.04"), "Active Development"),
    ("questing", Some("25.10"), "Current Stable Release"),
    ("plucky", Some("25.04"), "Obsolete"),
    ("oracular", Some("24.10"), "Obsolete"),
    ("noble", Some("24.04"), "Supported"),
    ("mantic", Some("23.10"), "Obsolete"),
    ("lunar", Some("23.04"), "Obsolete"),
    ("kinetic", Some("22.10"), "Obsolete"),
    ("jammy", Some("22.04"), "Supported"),
    ("impish", Some("21.10"), "Obsolete"),
    ("hirsute", Some("21.04"), "Obsolete"),
    ("groovy", Some("20.10"), "Obsolete"),
    ("focal", Some("20.04"), "Supported"),
    ("eoan", Some("19.10"), "Obsolete"),
    ("disco", Some("19.04"), "Obsolete"),
    ("cosmic", Some("18.10"), "Obsolete"),
    ("bionic", Some("18.04"), "Supported"),
    ("artful", Some("17.10"), "Obsolete"),
    ("zesty", Some("17.04"), "Obsolete"),
    ("yakkety", Some("16.10"), "Obsolete"),
    ("xenial", Some("16.04"), "Supported"),
    ("wily", Some("15.10"), "Obsolete"),
    ("vivid", Some("15.04"), "Obsolete"),
    ("utopic", Some("14.10"), "Obsolete"),
    ("trusty", Some("14.04"), "Supported"),
    ("saucy", Some("13.10"), "Obsolete"),
    ("raring", Some("13.04"), "Obsolete"),
    ("quantal", Some("12.10"), "Obsolete"),
    ("precise", Some("12.04"), "Obsolete"),
    ("oneiric", Some("11.10"), "Obsolete"),
    ("natty", Some("11.04"), "Obsolete"),
    ("maverick", Some("10.10"), "Obsolete"),
    ("lucid", Some("10.04"), "Obsolete"),
    ("karmic", Some("9.10"), "Obsolete"),
    ("jaunty", Some("9.04"), "Obsolete"),
    ("intrepid", Some("8.10"), "Obsolete"),
    ("hardy", Some("8.04"), "Obsolete"),
    ("gutsy", Some("7.10"), "Obsolete"),
    ("feisty", Some("7.04"), "Obsolete"),
    ("edgy", Some("6.10"), "Obsolete"),
    ("dapper", Some("6.06"), "Obsolete"),
    ("breezy", Some("5.10"), "Obsolete"),
    ("hoary", Some("5.04"), "Obsolete"),
    ("warty", Some("4.10"), "Obsolete"),
];

/// A known series of `distro` and its position in the table (0 is the newest). Codenames
/// of other distributions are looked up in both tables: they do not collide.
pub(crate) fn lookup(distro: &str, name: &str) -> Option<(usize, Known)> {
    let tables: &[&[Known]] = match distro {
        "debian" => &[DEBIAN],
        "ubuntu" => &[UBUNTU],
        _ => &[DEBIAN, UBUNTU],
    };
    tables.iter().find_map(|table| {
        table
            .iter()
            .position(|(n, _, _)| *n == name)
            .map(|i| (i, table[i]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_newest_first_and_use_launchpads_statuses() {
        assert_eq!(UBUNTU.len(), 44, "warty to resolute");
        for table in [DEBIAN, UBUNTU] {
            for (name, _, status) in table {
                assert!(STATUSES.contains(status), "{name}: {status}");
            }
            let versions: Vec<Vec<u64>> = table
                .iter()
                .filter_map(|(_, v, _)| v.map(super::super::series::version_key))
                .collect();
            assert!(versions.windows(2).all(|w| w[0] > w[1]), "{versions:?}");
        }
    }

    #[test]
    fn the_as_of_early_2026_statuses() {
        let status = |d: &str, n: &str| lookup(d, n).map(|(_, (_, _, s))| s);
        assert_eq!(status("ubuntu", "resolute"), Some("Active Development"));
        assert_eq!(status("ubuntu", "questing"), Some("Current Stable Release"));
        assert_eq!(status("ubuntu", "noble"), Some("Supported"));
        assert_eq!(status("ubuntu", "jammy"), Some("Supported"));
        assert_eq!(status("ubuntu", "plucky"), Some("Obsolete"));
        assert_eq!(status("ubuntu", "hardy"), Some("Obsolete"));
        assert_eq!(status("debian", "sid"), Some("Active Development"));
        assert_eq!(status("debian", "trixie"), Some("Current Stable Release"));
        assert_eq!(status("debian", "bookworm"), Some("Supported"));
        assert_eq!(status("debian", "bullseye"), Some("Supported"));
        assert_eq!(status("debian", "buster"), Some("Obsolete"));
        // Each distribution knows its own codenames only; others look in both.
        assert_eq!(status("debian", "noble"), None);
        assert_eq!(status("ubuntu", "sid"), None);
        assert_eq!(status("kali", "noble"), Some("Supported"));
        assert!(is_active("Supported") && !is_active("Future") && !is_active("Obsolete"));
        assert!(is_supported("Current Stable Release") && !is_supported("Active Development"));
    }
}
