//! Notifications to parents, delivered exactly once through an outbox.
//!
//! `Store::record` adds a message to the `outbox` table in the transaction of the event
//! that causes it (see `store/outbox.rs`): a registration, a referral issued, a reminder the
//! day before a referral lapses (cancelled in the transaction that hands the referral in or
//! ends it, replaced when it is extended), a referral expired, any other change of status.
//! So a message exists if and only if its event is committed. The texts (`texts.rs`) are in
//! Kazakh and in Russian, in one message.
//!
//! The [`Sender`] (`sender.rs`) delivers them on a thread of its own, with retries and
//! backoff, through a [`Channel`] (`channels.rs`): a directory of `.eml` files by default,
//! or SMTP. A message is marked delivered after the channel took it; the file channel is
//! idempotent per message id, so a crash between the two repeats nothing.
//!
//! The recipient is the applicant's e-mail address; an applicant who gave none gets a
//! message addressed to their phone number (`tel:`): the file channel records it (for an
//! SMS gateway or a call), the SMTP channel skips it. SMS itself is not done here.
//!
//! Logs name messages by their outbox id, never by address, name or text.

pub mod channels;
pub mod sender;
pub mod texts;

pub use channels::{Channel, Delivered, DeliveryError, FileChannel, SmtpChannel};
pub use sender::{Deliverer, PassReport, Sender, SenderConfig, KEEP_DELIVERED_DAYS_DEFAULT};

use std::path::{Path, PathBuf};

/// Where notifications go, as `kezek serve --notify` takes it.
#[derive(Clone, PartialEq, Eq)]
pub enum NotifyTo {
    /// `file:DIR`: one file per message in DIR.
    Files(PathBuf),
    /// `smtp://...` or `smtps://...`: see [`SmtpChannel::from_url`].
    Smtp(String),
    /// `off`: messages stay in the outbox until a sender runs.
    Off,
}

// Not derived: an SMTP URL may hold a password.
impl std::fmt::Debug for NotifyTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotifyTo::Files(dir) => write!(f, "file:{}", dir.display()),
            NotifyTo::Smtp(_) => write!(f, "smtp"),
            NotifyTo::Off => write!(f, "off"),
        }
    }
}

impl NotifyTo {
    /// The default: files in `outbox/` beside the database.
    pub fn beside(db: &Path) -> NotifyTo {
        let dir = db.parent().filter(|p| !p.as_os_str().is_empty());
        NotifyTo::Files(dir.unwrap_or(Path::new(".")).join("outbox"))
    }

    pub fn parse(spec: &str) -> Result<NotifyTo, String> {
        if spec == "off" {
            Ok(NotifyTo::Off)
        } else if let Some(dir) = spec.strip_prefix("file:") {
            if dir.is_empty() {
                return Err("file: needs a directory, e.g. file:/var/lib/kezek/outbox".into());
            }
            Ok(NotifyTo::Files(PathBuf::from(dir)))
        } else if spec.starts_with("smtp://") || spec.starts_with("smtps://") {
            Ok(NotifyTo::Smtp(spec.to_string()))
        } else {
            Err(
                "expected file:DIR, smtp://[user:pass@]host[:port]?from=ADDRESS, \
                 smtps://... or off"
                    .into(),
            )
        }
    }

    /// The channel, ready to deliver; `None` for `off`.
    pub fn open(&self) -> anyhow::Result<Option<Box<dyn Channel>>> {
        match self {
            NotifyTo::Files(dir) => {
                let channel = FileChannel::new(dir).map_err(|e| {
                    anyhow::anyhow!("cannot use {} for notifications: {e}", dir.display())
                })?;
                Ok(Some(Box::new(channel)))
            }
            NotifyTo::Smtp(url) => Ok(Some(Box::new(SmtpChannel::from_url(url)?))),
            NotifyTo::Off => Ok(None),
        }
    }
}
