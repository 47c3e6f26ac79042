//! Task and board rules: input limits, checklist progress, optimistic versions,
//! who may change and delete tasks, and the fractional-index ordering keys of
//! board columns. Pure functions; the writer calls them inside its transaction
//! and the service before it queues a write.

use crate::Rejection;
use sova_types::UserId;
use sova_types::models::{ChatKind, Role};
use sova_types::tasks::ChecklistItem;

/// Longest task title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest task description, in characters.
pub const MAX_DESCRIPTION: usize = 10_000;
/// Most labels on a task.
pub const MAX_LABELS: usize = 20;
/// Longest label, in characters.
pub const MAX_LABEL: usize = 50;
/// Most checklist items on a task.
pub const MAX_CHECKLIST: usize = 100;
/// Longest checklist item, in characters.
pub const MAX_ITEM: usize = 500;
/// Most assignees on a task.
pub const MAX_ASSIGNEES: usize = 50;
/// Longest board or column name, in characters.
pub const MAX_BOARD_NAME: usize = 100;
/// Most columns on a board.
pub const MAX_COLUMNS: usize = 20;

/// Why task or board input is refused (before anything is written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskInvalid {
    /// `field` is empty or blank.
    Empty(&'static str),
    /// `field` is longer than `max` characters.
    TooLong { field: &'static str, max: usize },
    /// `field` holds more than `max` entries.
    TooMany { field: &'static str, max: usize },
    /// `field` contains control characters.
    Control(&'static str),
}

impl std::fmt::Display for TaskInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskInvalid::Empty(field) => write!(f, "{field} must not be empty"),
            TaskInvalid::TooLong { field, max } => write!(f, "{field} exceeds {max} characters"),
            TaskInvalid::TooMany { field, max } => write!(f, "at most {max} {field}"),
            TaskInvalid::Control(field) => write!(f, "{field} must not contain control characters"),
        }
    }
}

/// A one-line text: trimmed, 1..=`max` characters, no control characters.
fn line(field: &'static str, s: &str, max: usize) -> Result<String, TaskInvalid> {
    let s = s.trim();
    if s.is_empty() {
        return Err(TaskInvalid::Empty(field));
    }
    if s.chars().count() > max {
        return Err(TaskInvalid::TooLong { field, max });
    }
    if s.chars().any(char::is_control) {
        return Err(TaskInvalid::Control(field));
    }
    Ok(s.to_owned())
}

/// A task title: 1..=200 characters after trimming, one line.
pub fn title(s: &str) -> Result<String, TaskInvalid> {
    line("title", s, MAX_TITLE)
}

/// A description: at most 10 000 characters (line breaks and tabs allowed).
pub fn description(s: &str) -> Result<String, TaskInvalid> {
    if s.chars().count() > MAX_DESCRIPTION {
        return Err(TaskInvalid::TooLong {
            field: "description",
            max: MAX_DESCRIPTION,
        });
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(TaskInvalid::Control("description"));
    }
    Ok(s.to_owned())
}

/// Labels: at most 20, each 1..=50 characters; duplicates dropped, order kept.
pub fn labels(labels: &[String]) -> Result<Vec<String>, TaskInvalid> {
    if labels.len() > MAX_LABELS {
        return Err(TaskInvalid::TooMany {
            field: "labels",
            max: MAX_LABELS,
        });
    }
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for l in labels {
        let l = line("label", l, MAX_LABEL)?;
        if !out.contains(&l) {
            out.push(l);
        }
    }
    Ok(out)
}

/// A checklist: at most 100 items, each 1..=500 characters.
pub fn checklist(items: &[ChecklistItem]) -> Result<Vec<ChecklistItem>, TaskInvalid> {
    if items.len() > MAX_CHECKLIST {
        return Err(TaskInvalid::TooMany {
            field: "checklist items",
            max: MAX_CHECKLIST,
        });
    }
    items
        .iter()
        .map(|i| {
            Ok(ChecklistItem {
                text: line("checklist item", &i.text, MAX_ITEM)?,
                done: i.done,
            })
        })
        .collect()
}

/// Assignees: at most 50, duplicates dropped (membership is checked by the writer).
pub fn assignees(users: &[UserId]) -> Result<Vec<UserId>, TaskInvalid> {
    if users.len() > MAX_ASSIGNEES {
        return Err(TaskInvalid::TooMany {
            field: "assignees",
            max: MAX_ASSIGNEES,
        });
    }
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        if !out.contains(u) {
            out.push(*u);
        }
    }
    Ok(out)
}

/// A board: its name and 1..=20 uniquely named columns.
pub fn board(name: &str, columns: &[String]) -> Result<(String, Vec<String>), TaskInvalid> {
    let name = line("name", name, MAX_BOARD_NAME)?;
    if columns.is_empty() {
        return Err(TaskInvalid::Empty("columns"));
    }
    if columns.len() > MAX_COLUMNS {
        return Err(TaskInvalid::TooMany {
            field: "columns",
            max: MAX_COLUMNS,
        });
    }
    let columns = columns
        .iter()
        .map(|c| line("column name", c, MAX_BOARD_NAME))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name, columns))
}

/// Done items as a percentage of all, rounded down; 0 for an empty checklist.
pub fn progress(items: &[ChecklistItem]) -> u8 {
    if items.is_empty() {
        return 0;
    }
    let done = items.iter().filter(|i| i.done).count();
    u8::try_from(done * 100 / items.len()).unwrap_or(100)
}

/// A write naming `expected` (when it names one) applies only to version `current`.
pub fn check_version(expected: Option<i64>, current: i64) -> Result<(), Rejection> {
    match expected {
        Some(v) if v != current => Err(Rejection::StaleVersion { current }),
        _ => Ok(()),
    }
}

/// May a member of a chat of `kind` with `role` create, edit and move its tasks
/// and boards? Everyone who may post there (in a channel: the owner and admins).
pub fn can_change(kind: ChatKind, role: Role) -> Result<(), Rejection> {
    crate::rules::can_post(kind, role)
}

/// May `by` delete a task made by `creator`? Its creator, or a chat manager.
pub fn can_delete(by: UserId, creator: UserId, role: Role) -> Result<(), Rejection> {
    if by == creator || role.manages() {
        Ok(())
    } else {
        Err(Rejection::TaskDeleteNotAllowed)
    }
}

/// Digits of ordering keys, in ascending byte order (base 62).
const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn digit_value(c: u8) -> Option<usize> {
    DIGITS.iter().position(|d| *d == c)
}

/// Whether `key` is a valid ordering key: base-62 digits, not ending in `0`
/// (so that a key always exists between it and any greater one).
pub fn valid_rank(key: &str) -> bool {
    !key.is_empty() && !key.ends_with('0') && key.bytes().all(|c| digit_value(c).is_some())
}

/// An ordering key strictly between `before` and `after` (`None`: the start or
/// the end of the column), so a move rewrites only the moved task. Keys compare
/// as byte strings. `None` when the neighbours are not valid keys in order.
pub fn rank_between(before: Option<&str>, after: Option<&str>) -> Option<String> {
    let a = before.unwrap_or("");
    if before.is_some_and(|k| !valid_rank(k)) || after.is_some_and(|k| !valid_rank(k)) {
        return None;
    }
    if let Some(b) = after
        && a >= b
    {
        return None;
    }
    let mut out = String::new();
    midpoint(a.as_bytes(), after.map(str::as_bytes), &mut out)?;
    Some(out)
}

/// Appends to `out` a key between `a` (may be empty) and `b` (`None`: no upper
/// bound); requires `a < b`.
fn midpoint(a: &[u8], b: Option<&[u8]>, out: &mut String) -> Option<()> {
    let digit = |i: usize| -> char { char::from(DIGITS[i]) };
    if let Some(b) = b {
        // The shared prefix (a padded with zeros) is kept as it is.
        let mut n = 0;
        while n < b.len() && a.get(n).copied().unwrap_or(b'0') == b[n] {
            n += 1;
        }
        if n > 0 {
            out.push_str(std::str::from_utf8(&b[..n]).ok()?);
            return midpoint(a.get(n..).unwrap_or(&[]), Some(&b[n..]), out);
        }
    }
    let da = match a.first() {
        Some(c) => digit_value(*c)?,
        None => 0,
    };
    let db = match b.and_then(|b| b.first()) {
        Some(c) => digit_value(*c)?,
        None => DIGITS.len(),
    };
    if db > da + 1 {
        out.push(digit((da + db) / 2));
        return Some(());
    }
    // Adjacent first digits: `b`'s first digit alone sits between when `b` is longer…
    if let Some(b) = b
        && b.len() > 1
    {
        out.push(char::from(b[0]));
        return Some(());
    }
    // …else keep `a`'s first digit and go one level deeper, without an upper bound.
    out.push(digit(da));
    midpoint(a.get(1..).unwrap_or(&[]), None, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str, done: bool) -> ChecklistItem {
        ChecklistItem {
            text: text.into(),
            done,
        }
    }

    #[test]
    fn titles_and_descriptions_are_bounded() {
        assert_eq!(title("  Ship it  ").unwrap(), "Ship it");
        assert_eq!(title("   "), Err(TaskInvalid::Empty("title")));
        assert!(title(&"x".repeat(200)).is_ok());
        assert_eq!(
            title(&"x".repeat(201)),
            Err(TaskInvalid::TooLong {
                field: "title",
                max: 200
            })
        );
        assert_eq!(title("a\nb"), Err(TaskInvalid::Control("title")));
        assert!(description("line one\nline two\tend").is_ok());
        assert!(description(&"é".repeat(10_000)).is_ok());
        assert!(matches!(
            description(&"x".repeat(10_001)),
            Err(TaskInvalid::TooLong { .. })
        ));
        assert_eq!(description("bell\u{7}"), Err(TaskInvalid::Control("description")));
    }

    #[test]
    fn labels_checklists_assignees_and_boards_are_bounded() {
        let ls: Vec<String> = vec!["ui".into(), " ui ".into(), "api".into()];
        assert_eq!(labels(&ls).unwrap(), ["ui", "api"]);
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(matches!(labels(&many), Err(TaskInvalid::TooMany { max: 20, .. })));
        assert!(labels(&many[..20]).is_ok());
        assert_eq!(labels(&["".into()]), Err(TaskInvalid::Empty("label")));
        let items: Vec<ChecklistItem> = (0..101).map(|i| item(&format!("i{i}"), false)).collect();
        assert!(matches!(checklist(&items), Err(TaskInvalid::TooMany { max: 100, .. })));
        assert_eq!(checklist(&items[..100]).unwrap().len(), 100);
        assert_eq!(checklist(&[item(" ", true)]), Err(TaskInvalid::Empty("checklist item")));
        assert_eq!(
            assignees(&[UserId(1), UserId(1), UserId(2)]).unwrap(),
            [UserId(1), UserId(2)]
        );
        assert_eq!(
            board(" Plan ", &["To do".into(), "Done".into()]).unwrap(),
            ("Plan".to_owned(), vec!["To do".to_owned(), "Done".to_owned()])
        );
        assert_eq!(board("Plan", &[]), Err(TaskInvalid::Empty("columns")));
        let cols: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
        assert!(matches!(
            board("Plan", &cols),
            Err(TaskInvalid::TooMany { max: 20, .. })
        ));
    }

    #[test]
    fn progress_is_the_done_share() {
        assert_eq!(progress(&[]), 0);
        assert_eq!(progress(&[item("a", true)]), 100);
        assert_eq!(progress(&[item("a", true), item("b", false), item("c", false)]), 33);
        assert_eq!(progress(&[item("a", false), item("b", false)]), 0);
    }

    #[test]
    fn versions_and_permissions() {
        assert_eq!(check_version(None, 7), Ok(()));
        assert_eq!(check_version(Some(7), 7), Ok(()));
        assert_eq!(check_version(Some(6), 7), Err(Rejection::StaleVersion { current: 7 }));
        assert_eq!(can_change(ChatKind::Group, Role::Member), Ok(()));
        assert!(can_change(ChatKind::Channel, Role::Member).is_err());
        assert_eq!(can_change(ChatKind::Channel, Role::Admin), Ok(()));
        assert_eq!(can_delete(UserId(1), UserId(1), Role::Member), Ok(()));
        assert_eq!(can_delete(UserId(2), UserId(1), Role::Admin), Ok(()));
        assert_eq!(
            can_delete(UserId(2), UserId(1), Role::Member),
            Err(Rejection::TaskDeleteNotAllowed)
        );
    }

    #[test]
    fn ranks_fall_strictly_between_their_neighbours() {
        let first = rank_between(None, None).unwrap();
        assert!(valid_rank(&first));
        let after = rank_between(Some(&first), None).unwrap();
        let before = rank_between(None, Some(&first)).unwrap();
        assert!(before < first && first < after, "{before} {first} {after}");
        assert_eq!(rank_between(Some("b"), Some("a")), None);
        assert_eq!(rank_between(Some("a"), Some("a")), None);
        assert_eq!(rank_between(Some("a0"), None), None);
        assert_eq!(rank_between(Some("a-"), None), None);
        // Adjacent digits and shared prefixes still leave room.
        let k = rank_between(Some("a"), Some("b")).unwrap();
        assert!("a" < k.as_str() && k.as_str() < "b", "{k}");
        let k = rank_between(Some("az"), Some("b")).unwrap();
        assert!("az" < k.as_str() && k.as_str() < "b", "{k}");
        let k = rank_between(Some("a"), Some("a1")).unwrap();
        assert!("a" < k.as_str() && k.as_str() < "a1", "{k}");
    }

    #[test]
    fn repeated_inserts_at_one_spot_keep_a_total_order() {
        // A deterministic pseudo-random walk of inserts: every new key lands strictly
        // between its neighbours and the column stays sorted.
        let mut keys: Vec<String> = Vec::new();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pos = match i % 4 {
                0 => 0,
                1 => keys.len(),
                _ => (state % (keys.len() as u64 + 1)) as usize,
            };
            let before = pos.checked_sub(1).map(|p| keys[p].as_str());
            let after = keys.get(pos).map(String::as_str);
            let k = rank_between(before, after).unwrap();
            assert!(valid_rank(&k), "{k}");
            assert!(before.is_none_or(|b| b < k.as_str()) && after.is_none_or(|a| k.as_str() < a));
            keys.insert(pos, k);
        }
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        // Always inserting at the front grows keys slowly.
        let mut front = rank_between(None, None).unwrap();
        for _ in 0..500 {
            front = rank_between(None, Some(&front)).unwrap();
        }
        assert!(front.len() < 120, "{}", front.len());
    }
}
