//! A workspace's platform settings: who the local users are and what the account looks like to
//! its apps (the tenant's binding, locale and currency, the segment's trade policy and
//! country). Saved values live in the workspace database; every key has a default, so a
//! workspace nobody configured answers as a plain `en-US`/`USD` store with trade policy 1.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{Db, Result, StoreError};

/// One setting: its key (as `ioctl platform set KEY=VALUE` names it) and what it is for.
pub struct Key {
    pub name: &'static str,
    pub help: &'static str,
}

/// Every key, in the order `ioctl platform show` lists them.
pub const KEYS: &[Key] = &[
    Key { name: "user.email", help: "the local admin: VTEX ID's user, the session's adminUserEmail" },
    Key { name: "shopper.email", help: "the local shopper: VTEX ID's user, the session's profile email" },
    Key { name: "store.name", help: "the tenant's title" },
    Key { name: "binding.host", help: "the store's binding (canonicalBaseAddress)" },
    Key { name: "locale", help: "the binding's locale and the segment's cultureInfo (e.g. pt-BR)" },
    Key { name: "currency", help: "the binding's and the segment's currency code (ISO 4217, e.g. BRL)" },
    Key { name: "currency_symbol", help: "the segment's currencySymbol" },
    Key { name: "country", help: "the segment's countryCode (ISO 3166 alpha-3, e.g. BRA)" },
    Key { name: "trade_policy", help: "the segment's channel (sales channel), a number from 1" },
];

/// The effective settings of a workspace: what was saved over the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    #[serde(rename = "user.email")]
    pub user_email: String,
    #[serde(rename = "shopper.email")]
    pub shopper_email: String,
    #[serde(rename = "store.name")]
    pub store_name: String,
    #[serde(rename = "binding.host")]
    pub binding_host: String,
    pub locale: String,
    pub currency: String,
    pub currency_symbol: String,
    pub country: String,
    pub trade_policy: u32,
}

impl Settings {
    /// What an account's workspace answers before anything is set.
    pub fn defaults(account: &str) -> Settings {
        Settings {
            user_email: "dev@local".into(),
            shopper_email: "shopper@local".into(),
            store_name: account.to_string(),
            binding_host: format!("{account}.myvtex.com"),
            locale: "en-US".into(),
            currency: "USD".into(),
            currency_symbol: "$".into(),
            country: "USA".into(),
            trade_policy: 1,
        }
    }

    /// The defaults of `account` with `saved` over them (values were checked when saved; one
    /// that no longer passes is left at its default).
    pub fn from_saved(account: &str, saved: &BTreeMap<String, String>) -> Settings {
        let mut s = Settings::defaults(account);
        for (key, value) in saved {
            let _ = s.apply(key, value);
        }
        s
    }

    /// Sets one key, checked.
    fn apply(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
        check(key, value.trim())?;
        let text = normalized(key, value);
        match key {
            "user.email" => self.user_email = text,
            "shopper.email" => self.shopper_email = text,
            "store.name" => self.store_name = text,
            "binding.host" => self.binding_host = text,
            "locale" => self.locale = text,
            "currency" => self.currency = text,
            "currency_symbol" => self.currency_symbol = text,
            "country" => self.country = text,
            "trade_policy" => self.trade_policy = text.parse().map_err(|_| "a number from 1".to_string())?,
            _ => return Err(unknown(key)),
        }
        Ok(())
    }

    /// Each key with its effective value, in [`KEYS`] order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let value = serde_json::to_value(self).unwrap_or_default();
        KEYS.iter()
            .map(|k| {
                let v = &value[k.name];
                (k.name, v.as_str().map_or_else(|| v.to_string(), str::to_string))
            })
            .collect()
    }
}

/// A checked value as it is kept: trimmed, codes in upper case, a host in lower case.
pub(crate) fn normalized(key: &str, value: &str) -> String {
    let value = value.trim();
    match key {
        "currency" | "country" => value.to_ascii_uppercase(),
        "binding.host" => value.to_ascii_lowercase(),
        _ => value.to_string(),
    }
}

/// The error for a key that does not exist, listing those that do.
pub fn unknown(key: &str) -> String {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    format!("unknown platform setting `{}`; the keys are: {}", crate::app::clip(key, 60), names.join(", "))
}

/// Whether `value` is acceptable for `key` (the reason when not).
pub fn check(key: &str, value: &str) -> std::result::Result<(), String> {
    let bad = |what: &str| Err(format!("{key}: `{}` is not {what}", crate::app::clip(value, 60)));
    let letters = |n: usize| value.len() == n && value.chars().all(|c| c.is_ascii_alphabetic());
    match key {
        "user.email" | "shopper.email" => {
            let ok = value.len() <= 254
                && value.split_once('@').is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
                && !value.chars().any(|c| c.is_whitespace() || c.is_control());
            if ok {
                Ok(())
            } else {
                bad("an email address (name@host)")
            }
        }
        "store.name" => {
            if !value.is_empty() && value.len() <= 200 && !value.chars().any(char::is_control) {
                Ok(())
            } else {
                bad("a name (1 to 200 characters)")
            }
        }
        "binding.host" => {
            let ok = !value.is_empty()
                && value.len() <= 253
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && !value.starts_with('.')
                && !value.ends_with('.');
            if ok {
                Ok(())
            } else {
                bad("a host name (e.g. store.example.com)")
            }
        }
        "locale" => {
            let mut parts = value.split('-');
            let lang = parts.next().unwrap_or("");
            let ok = (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_alphabetic())
                && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
            if ok {
                Ok(())
            } else {
                bad("a locale (e.g. en-US, pt-BR)")
            }
        }
        "currency" => {
            if letters(3) {
                Ok(())
            } else {
                bad("a currency code (three letters, e.g. BRL)")
            }
        }
        "country" => {
            if letters(3) {
                Ok(())
            } else {
                bad("a country code (ISO 3166 alpha-3, e.g. BRA)")
            }
        }
        "currency_symbol" => {
            if !value.is_empty() && value.chars().count() <= 8 && !value.chars().any(char::is_control) {
                Ok(())
            } else {
                bad("a currency symbol (1 to 8 characters, e.g. R$)")
            }
        }
        "trade_policy" => match value.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(()),
            _ => bad("a trade policy (a whole number from 1)"),
        },
        _ => Err(unknown(key)),
    }
}

/// The values saved in this workspace (keys never set are absent).
pub fn saved(db: &Db) -> Result<BTreeMap<String, String>> {
    let db = super::db::backend!(db, pg => pg.run(super::pg::workspace::platform_saved));
    saved_in(&db.conn)
}

fn saved_in(conn: &Connection) -> Result<BTreeMap<String, String>> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM platform ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The effective settings of the workspace of `account`.
pub fn effective(db: &Db, account: &str) -> Result<Settings> {
    Ok(Settings::from_saved(account, &saved(db)?))
}

/// Checks every pair, then saves them all in one transaction (none when one is refused).
pub fn set(db: &mut Db, pairs: &[(String, String)]) -> Result<()> {
    let db = super::db::backend!(db, pg => pg.run(|c| super::pg::workspace::platform_set(c, pairs)));
    let tx = db.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    set_in(&tx, pairs)?;
    tx.commit()?;
    Ok(())
}

/// [`set`] in a write transaction of the caller's (a snapshot import).
pub(crate) fn set_in(conn: &Connection, pairs: &[(String, String)]) -> Result<()> {
    for (key, value) in pairs {
        check(key, value.trim()).map_err(StoreError::bad_request)?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO platform (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in pairs {
        insert.execute(params![key, normalized(key, value)])?;
    }
    Ok(())
}

/// Forgets every saved value (back to the defaults).
pub(crate) fn clear_in(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM platform", [])?;
    Ok(())
}

/// `KEY=VALUE` as the CLI takes it.
pub fn parse_pair(text: &str) -> std::result::Result<(String, String), String> {
    let (key, value) =
        text.split_once('=').ok_or_else(|| format!("`{}` is not KEY=VALUE", crate::app::clip(text, 60)))?;
    let key = key.trim();
    if !KEYS.iter().any(|k| k.name == key) {
        return Err(unknown(key));
    }
    check(key, value.trim())?;
    Ok((key.to_string(), normalized(key, value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{backends, Kind};

    #[test]
    fn an_unset_workspace_answers_the_defaults() {
        for (_dir, db) in backends(Kind::Workspace, "an_unset_workspace_answers_the_defaults") {
            let s = effective(&db, "acme").unwrap();
            assert_eq!(s, Settings::defaults("acme"));
            assert_eq!((s.user_email.as_str(), s.locale.as_str(), s.trade_policy), ("dev@local", "en-US", 1));
            assert_eq!(s.binding_host, "acme.myvtex.com");
            assert_eq!(s.pairs().len(), KEYS.len(), "every key shows");
            assert_eq!(s.pairs()[0], ("user.email", "dev@local".to_string()));
        }
    }

    #[test]
    fn saved_values_override_the_defaults_and_a_bad_pair_saves_nothing() {
        for (_dir, mut db) in
            backends(Kind::Workspace, "saved_values_override_the_defaults_and_a_bad_pair_saves_nothing")
        {
            let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
            set(&mut db, &[pair("user.email", "ana@acme.com"), pair("currency", "brl"), pair("trade_policy", "2")])
                .unwrap();
            let s = effective(&db, "acme").unwrap();
            assert_eq!((s.user_email.as_str(), s.currency.as_str(), s.trade_policy), ("ana@acme.com", "BRL", 2));
            let e = set(&mut db, &[pair("locale", "pt-BR"), pair("trade_policy", "0")]).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains("trade_policy: `0` is not a trade policy"), "{}", e.message);
            assert_eq!(effective(&db, "acme").unwrap().locale, "en-US", "all or nothing");
            assert_eq!(saved(&db).unwrap()["currency"], "BRL", "kept as it is used");
        }
    }

    #[test]
    fn keys_and_values_are_checked_with_what_to_do() {
        let e = parse_pair("user.mail=x@y").unwrap_err();
        assert!(e.starts_with("unknown platform setting `user.mail`; the keys are: user.email, shopper.email"), "{e}");
        assert!(parse_pair("no-equals").unwrap_err().contains("is not KEY=VALUE"));
        for (key, bad) in [
            ("user.email", "nobody"),
            ("shopper.email", "a b@c"),
            ("locale", "english"),
            ("currency", "US"),
            ("country", "BR"),
            ("trade_policy", "x"),
            ("binding.host", "a/b"),
            ("store.name", ""),
        ] {
            assert!(parse_pair(&format!("{key}={bad}")).is_err(), "{key}={bad}");
        }
        assert_eq!(parse_pair(" locale = pt-BR ").unwrap(), ("locale".into(), "pt-BR".into()));
        assert_eq!(parse_pair("store.name=Loja = Boa").unwrap().1, "Loja = Boa", "the first = splits");
    }
}
