//! Statistics and achievements as pure folds over a player's finished games:
//! played, won, lost, drawn and win streaks per kind, and an achievement catalogue
//! whose conditions are checked after each new result. `Progress::record` returns
//! only achievements not already held, so each is unlocked (and announced)
//! exactly once however often its condition holds again.

use super::GameKind;
use super::table::PlayerOutcome;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Something special a player did in one game, beyond winning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feat {
    /// Won a hangman game with no miss at all.
    FlawlessHangman,
    /// Answered every question of a quiz right.
    PerfectQuiz,
}

/// How one finished game went for one player.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameRecord {
    /// The game's kind.
    pub kind: GameKind,
    /// Won, lost or drawn.
    pub outcome: PlayerOutcome,
    /// Feats in this game.
    pub feats: Vec<Feat>,
}

/// A player's statistics for one kind of game.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindStats {
    /// Finished games.
    pub played: u32,
    /// Games won.
    pub won: u32,
    /// Games lost.
    pub lost: u32,
    /// Games drawn.
    pub drawn: u32,
    /// Wins in a row up to the latest game (a loss or a draw resets it).
    pub streak: u32,
    /// The longest run of wins ever.
    pub best_streak: u32,
}

/// A player's statistics per kind; `played == won + lost + drawn` in every kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Per kind; a kind never played is absent.
    pub kinds: BTreeMap<GameKind, KindStats>,
}

impl Stats {
    /// The statistics of a whole history, oldest game first.
    pub fn from_history<'a>(records: impl IntoIterator<Item = &'a GameRecord>) -> Stats {
        records.into_iter().fold(Stats::default(), |s, r| s.with(r))
    }

    /// These statistics with one more finished game.
    pub fn with(&self, r: &GameRecord) -> Stats {
        let mut next = self.clone();
        let k = next.kinds.entry(r.kind).or_default();
        k.played += 1;
        match r.outcome {
            PlayerOutcome::Won => {
                k.won += 1;
                k.streak += 1;
                k.best_streak = k.best_streak.max(k.streak);
            }
            PlayerOutcome::Lost => {
                k.lost += 1;
                k.streak = 0;
            }
            PlayerOutcome::Drawn => {
                k.drawn += 1;
                k.streak = 0;
            }
        }
        next
    }

    /// One kind's statistics (zeros when never played).
    pub fn kind(&self, kind: GameKind) -> KindStats {
        self.kinds.get(&kind).copied().unwrap_or_default()
    }

    /// Games played over every kind.
    pub fn played(&self) -> u32 {
        self.kinds.values().map(|k| k.played).sum()
    }

    /// Games won over every kind.
    pub fn won(&self) -> u32 {
        self.kinds.values().map(|k| k.won).sum()
    }
}

/// The achievement catalogue; the wire id is the snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Achievement {
    /// Finished a first game of any kind.
    FirstGame,
    /// Won a first game.
    FirstWin,
    /// Finished a first game of tic-tac-toe.
    FirstTictactoe,
    /// Finished a first game of hangman.
    FirstHangman,
    /// Finished a first quiz.
    FirstQuiz,
    /// Finished a first game of Connect Four.
    FirstConnect4,
    /// Finished a game of every kind.
    AllRounder,
    /// Won ten games of one kind in a row.
    TenWinStreak,
    /// Won fifty games.
    FiftyWins,
    /// Finished a hundred games.
    HundredGames,
    /// Won a hangman game without a miss.
    FlawlessHangman,
    /// Answered every question of a quiz right.
    QuizPerfect,
}

impl Achievement {
    /// Every achievement, in catalogue order.
    pub const ALL: [Achievement; 12] = [
        Achievement::FirstGame,
        Achievement::FirstWin,
        Achievement::FirstTictactoe,
        Achievement::FirstHangman,
        Achievement::FirstQuiz,
        Achievement::FirstConnect4,
        Achievement::AllRounder,
        Achievement::TenWinStreak,
        Achievement::FiftyWins,
        Achievement::HundredGames,
        Achievement::FlawlessHangman,
        Achievement::QuizPerfect,
    ];

    /// The wire id, e.g. `first_win`.
    pub fn id(self) -> &'static str {
        match self {
            Achievement::FirstGame => "first_game",
            Achievement::FirstWin => "first_win",
            Achievement::FirstTictactoe => "first_tictactoe",
            Achievement::FirstHangman => "first_hangman",
            Achievement::FirstQuiz => "first_quiz",
            Achievement::FirstConnect4 => "first_connect4",
            Achievement::AllRounder => "all_rounder",
            Achievement::TenWinStreak => "ten_win_streak",
            Achievement::FiftyWins => "fifty_wins",
            Achievement::HundredGames => "hundred_games",
            Achievement::FlawlessHangman => "flawless_hangman",
            Achievement::QuizPerfect => "quiz_perfect",
        }
    }

    /// A short English title (clients translate by `id`).
    pub fn title(self) -> &'static str {
        match self {
            Achievement::FirstGame => "First game",
            Achievement::FirstWin => "First win",
            Achievement::FirstTictactoe => "Noughts and crosses",
            Achievement::FirstHangman => "Word hunter",
            Achievement::FirstQuiz => "Quiz night",
            Achievement::FirstConnect4 => "Four in a row",
            Achievement::AllRounder => "All-rounder",
            Achievement::TenWinStreak => "Unstoppable",
            Achievement::FiftyWins => "Champion",
            Achievement::HundredGames => "Regular",
            Achievement::FlawlessHangman => "Flawless",
            Achievement::QuizPerfect => "Know-it-all",
        }
    }

    /// Whether the condition holds for a player with `stats` (after the game) who
    /// just finished the game `last`.
    fn earned(self, stats: &Stats, last: &GameRecord) -> bool {
        let first_of = |kind| stats.kind(kind).played >= 1;
        match self {
            Achievement::FirstGame => stats.played() >= 1,
            Achievement::FirstWin => stats.won() >= 1,
            Achievement::FirstTictactoe => first_of(GameKind::TicTacToe),
            Achievement::FirstHangman => first_of(GameKind::Hangman),
            Achievement::FirstQuiz => first_of(GameKind::Quiz),
            Achievement::FirstConnect4 => first_of(GameKind::Connect4),
            Achievement::AllRounder => GameKind::ALL.into_iter().all(first_of),
            Achievement::TenWinStreak => stats.kinds.values().any(|k| k.best_streak >= 10),
            Achievement::FiftyWins => stats.won() >= 50,
            Achievement::HundredGames => stats.played() >= 100,
            Achievement::FlawlessHangman => last.feats.contains(&Feat::FlawlessHangman),
            Achievement::QuizPerfect => last.feats.contains(&Feat::PerfectQuiz),
        }
    }
}

/// The achievements earned by a player with `stats` (after the game `last`) that
/// are not in `held`, in catalogue order.
pub fn newly_unlocked(held: &BTreeSet<Achievement>, stats: &Stats, last: &GameRecord) -> Vec<Achievement> {
    Achievement::ALL
        .into_iter()
        .filter(|a| !held.contains(a) && a.earned(stats, last))
        .collect()
}

/// A player's statistics and the achievements they hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Statistics per kind.
    pub stats: Stats,
    /// Achievements unlocked so far.
    pub achievements: BTreeSet<Achievement>,
}

impl Progress {
    /// The progress after one more finished game, and the achievements it unlocked
    /// (never one already held).
    pub fn record(&self, game: &GameRecord) -> (Progress, Vec<Achievement>) {
        let stats = self.stats.with(game);
        let new = newly_unlocked(&self.achievements, &stats, game);
        let mut achievements = self.achievements.clone();
        achievements.extend(new.iter().copied());
        (Progress { stats, achievements }, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: GameKind, outcome: PlayerOutcome) -> GameRecord {
        GameRecord {
            kind,
            outcome,
            feats: Vec::new(),
        }
    }

    #[test]
    fn streaks_count_wins_in_a_row_per_kind() {
        use PlayerOutcome::*;
        let t = GameKind::TicTacToe;
        let history: Vec<GameRecord> = [Won, Won, Drawn, Won, Won, Won, Lost, Won]
            .into_iter()
            .map(|o| rec(t, o))
            .collect();
        let s = Stats::from_history(&history);
        let k = s.kind(t);
        assert_eq!((k.played, k.won, k.lost, k.drawn), (8, 6, 1, 1));
        assert_eq!((k.streak, k.best_streak), (1, 3));
        assert_eq!(s.kind(GameKind::Quiz), KindStats::default());
        let s = s.with(&rec(GameKind::Quiz, Won));
        assert_eq!(s.kind(t).streak, 1, "another kind does not touch this streak");
        assert_eq!((s.played(), s.won()), (9, 7));
    }

    #[test]
    fn each_achievement_is_unlocked_exactly_once() {
        use PlayerOutcome::*;
        let mut p = Progress::default();
        let mut unlocked: Vec<Achievement> = Vec::new();
        let mut games: Vec<GameRecord> = Vec::new();
        for i in 0..120u32 {
            let kind = GameKind::ALL[(i % 4) as usize];
            let outcome = if i < 60 || i % 3 == 0 { Won } else { Lost };
            let feats = match (kind, i % 7) {
                (GameKind::Hangman, 0) if outcome == Won => vec![Feat::FlawlessHangman],
                (GameKind::Quiz, _) if i % 5 == 0 => vec![Feat::PerfectQuiz],
                _ => Vec::new(),
            };
            games.push(GameRecord { kind, outcome, feats });
        }
        for (i, g) in games.iter().enumerate() {
            let (next, new) = p.record(g);
            for a in &new {
                assert!(!p.achievements.contains(a), "{a:?} unlocked twice at game {i}");
            }
            unlocked.extend(new);
            p = next;
        }
        let mut sorted = unlocked.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), unlocked.len(), "no achievement was returned twice");
        assert_eq!(
            sorted,
            Achievement::ALL.to_vec(),
            "this history earns the whole catalogue"
        );
        assert_eq!(p.stats, Stats::from_history(&games));
        // Replaying the last game again unlocks nothing new.
        let (_, again) = p.record(&games[games.len() - 1]);
        assert!(again.is_empty());
    }

    #[test]
    fn conditions_need_their_numbers() {
        let one = rec(GameKind::Hangman, PlayerOutcome::Lost);
        let (p, new) = Progress::default().record(&one);
        assert_eq!(new, vec![Achievement::FirstGame, Achievement::FirstHangman]);
        let mut p = p;
        for _ in 0..9 {
            let (next, new) = p.record(&rec(GameKind::Connect4, PlayerOutcome::Won));
            assert!(!new.contains(&Achievement::TenWinStreak));
            p = next;
        }
        let (p, new) = p.record(&rec(GameKind::Connect4, PlayerOutcome::Won));
        assert_eq!(new, vec![Achievement::TenWinStreak]);
        let (_, new) = p.record(&rec(GameKind::Connect4, PlayerOutcome::Won));
        assert!(new.is_empty());
        assert_eq!(
            serde_json::to_value(Achievement::TenWinStreak).unwrap(),
            "ten_win_streak"
        );
        assert!(
            Achievement::ALL
                .iter()
                .all(|a| serde_json::to_value(a).unwrap() == a.id())
        );
    }
}
