//! `GameStore`: reads of games, ratings, statistics and achievements. Every
//! change to them is made by the batch writer (`writer/game_ops.rs`).

use crate::store::done;
use crate::writer::{GAME_COLUMNS, game_row, rating_from};
use crate::{Backend, Db, Result, SqlStore};
use async_trait::async_trait;
use sova_store::{AchievementRow, GameRow, GameStore, RatingRow, StoreResult};
use sova_types::{ChatId, GameId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

/// Rating rows joined with usernames, in `rating_row` order.
const RATING_SELECT: &str = "SELECT r.user_id, u.username, r.kind, r.rating, r.rd, r.volatility, r.played
     FROM game_ratings r JOIN users u ON u.id = r.user_id";

fn rating_row<R: Row>(r: &R) -> std::result::Result<RatingRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    Ok(RatingRow {
        user_id: UserId(r.try_get(0)?),
        username: r.try_get(1)?,
        kind: r.try_get(2)?,
        rating: rating_from(r.try_get(3)?, r.try_get(4)?, r.try_get(5)?),
        played: r.try_get(6)?,
    })
}

impl<B> SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
{
    async fn game_by_id(&self, id: GameId) -> Result<Option<GameRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GAME_COLUMNS} FROM games WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| game_row(&r)).transpose()?)
    }

    async fn due_games(&self, now: i64, limit: i64) -> Result<Vec<GameId>> {
        let found = sqlx::query(
            "SELECT id FROM games WHERE deadline IS NOT NULL AND deadline <= $1 ORDER BY deadline, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        found
            .iter()
            .map(|r| Ok(GameId(r.try_get(0)?)))
            .collect::<Result<Vec<_>>>()
    }

    async fn ratings(
        &self,
        kind: Option<&str>,
        chat: Option<ChatId>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<RatingRow>> {
        // An absent filter binds NULL, which the `IS NULL` branch turns off.
        let sql = format!(
            "{RATING_SELECT}
             WHERE (CAST($1 AS TEXT) IS NULL OR r.kind = $1)
               AND (CAST($2 AS BIGINT) IS NULL OR EXISTS (SELECT 1 FROM game_results g
                    WHERE g.chat_id = $2 AND g.user_id = r.user_id AND g.kind = r.kind))
             ORDER BY r.rating DESC, r.user_id, r.kind LIMIT $3 OFFSET $4"
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind.map(str::to_owned))
            .bind(chat.map(|c| c.0))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok(found
            .iter()
            .map(rating_row)
            .collect::<std::result::Result<_, sqlx::Error>>()?)
    }

    async fn player_row(&self, user: UserId) -> Result<(Option<String>, Vec<RatingRow>, Vec<AchievementRow>)> {
        let progress = sqlx::query("SELECT progress FROM game_progress WHERE user_id = $1")
            .bind(user.0)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let ratings = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RATING_SELECT} WHERE r.user_id = $1 ORDER BY r.kind"
        )))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rating_row)
        .collect::<std::result::Result<_, sqlx::Error>>()?;
        let achievements = sqlx::query(
            "SELECT achievement, game_id, unlocked_at FROM game_achievements WHERE user_id = $1
             ORDER BY unlocked_at, achievement",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AchievementRow {
                achievement: r.try_get(0)?,
                game_id: GameId(r.try_get(1)?),
                unlocked_at: r.try_get(2)?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok((progress, ratings, achievements))
    }
}

#[async_trait]
impl<B> GameStore for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
{
    async fn game(&self, id: GameId) -> StoreResult<Option<GameRow>> {
        done::<B, _>(self.game_by_id(id).await)
    }

    async fn games_due(&self, now: i64, limit: i64) -> StoreResult<Vec<GameId>> {
        done::<B, _>(self.due_games(now, limit).await)
    }

    async fn leaderboard(
        &self,
        kind: Option<&str>,
        chat: Option<ChatId>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<RatingRow>> {
        done::<B, _>(self.ratings(kind, chat, offset, limit).await)
    }

    async fn player(&self, user: UserId) -> StoreResult<(Option<String>, Vec<RatingRow>, Vec<AchievementRow>)> {
        done::<B, _>(self.player_row(user).await)
    }
}
