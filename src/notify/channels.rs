//! Where messages go: a directory of files (the embedded default) or an SMTP server.
//!
//! A channel delivers one message at a time and says whether a failure is worth retrying.
//! Delivery must be idempotent per message id wherever the channel allows it, because the
//! sender marks a message delivered only after the channel took it: a crash in between
//! makes the sender offer the same message again after the restart.

use crate::domain::local_offset;
use crate::store::{files, OutboxMessage};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a channel did with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Taken (or found already taken: a repeat after a crash).
    Sent,
    /// This channel cannot carry it (a phone number over e-mail); it is not retried.
    Skipped,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (the server is down, the disk is full).
    #[error("transient: {0}")]
    Transient(String),
    /// Will fail the same way every time (the address is malformed, the server refuses
    /// the mailbox); kept with its error for a person to look at.
    #[error("permanent: {0}")]
    Permanent(String),
}

pub trait Channel: Send + 'static {
    /// The name recorded with each delivery ("file", "smtp").
    fn name(&self) -> &'static str;

    /// Delivers one message. Must be idempotent per `message.id` where it can be.
    fn deliver(&mut self, message: &OutboxMessage) -> Result<Delivered, DeliveryError>;

    /// Makes the deliveries since the last flush durable. The sender calls it after a batch
    /// and before it marks the batch delivered.
    fn flush(&mut self) -> Result<(), DeliveryError> {
        Ok(())
    }
}

/// The Message-ID of an outbox message: stable across retries (derived from the message's
/// id and creation time, not from the attempt), so that a receiver can recognise a repeat.
/// The creation time keeps ids apart across databases that reuse the same row ids.
pub fn message_id(message: &OutboxMessage, domain: &str) -> String {
    format!(
        "<kezek-outbox-{}-{}@{domain}>",
        message.id,
        message.created_at.timestamp_micros()
    )
}

/// The file a message is written to: its id, zero-padded so that names sort by id.
pub fn file_name(id: i64) -> String {
    format!("{id:06}.eml")
}

/// Writes each message as its own file, `<dir>/<id>.eml`, in RFC 5322 form with UTF-8
/// headers (RFC 6532), for a mail gateway to pick up or a person to read.
///
/// Exactly once: a message is written to a temporary file, synced, and renamed to its
/// final name, so that the final name exists only with the whole message in it; the
/// directory is synced before the sender marks the batch delivered. If the final file
/// already exists with this message's Message-ID, an earlier attempt got that far before a
/// crash: delivery is a no-op success. A file of that name with another Message-ID (the
/// database was restored from an older copy and reuses ids) is a permanent error rather
/// than a silent overwrite or a silent loss.
pub struct FileChannel {
    dir: PathBuf,
    domain: String,
    unsynced: bool,
}

impl FileChannel {
    /// Creates `dir` if needed (owner-only, as each message file: they hold names and
    /// contacts; see `store::files`) and removes temporary files a crash left behind.
    pub fn new(dir: &Path) -> std::io::Result<FileChannel> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, files::DIR_MODE);
        builder.create(dir)?;
        files::restrict(dir, files::DIR_MODE)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") {
                std::fs::remove_file(entry.path())?;
            } else {
                // Messages an older version wrote world-readable.
                files::restrict(&entry.path(), files::FILE_MODE)?;
            }
        }
        Ok(FileChannel {
            dir: dir.to_path_buf(),
            domain: "kezek.localhost".into(),
            unsynced: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The message as the file holds it.
    pub fn render(&self, message: &OutboxMessage) -> String {
        let date = message
            .created_at
            .with_timezone(&local_offset())
            .to_rfc2822();
        let to = match message.recipient.split_once(':') {
            Some(("mailto", address)) => format!("To: {}\r\n", one_line(address)),
            Some(("tel", phone)) => format!(
                "To: undisclosed-recipients:;\r\nX-Kezek-Phone: {}\r\n",
                one_line(phone)
            ),
            _ => format!("X-Kezek-Recipient: {}\r\n", one_line(&message.recipient)),
        };
        let body = message.body.replace("\r\n", "\n").replace('\n', "\r\n");
        format!(
            "Message-ID: {}\r\nDate: {date}\r\nFrom: \"{}\" <no-reply@{}>\r\n{to}\
             Subject: {}\r\nX-Kezek-Outbox-Id: {}\r\nX-Kezek-Kind: {}\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\
             \r\n{body}",
            message_id(message, &self.domain),
            super::texts::SENDER_NAME,
            self.domain,
            one_line(&message.subject),
            message.id,
            message.kind,
        )
    }

    fn write_new(&self, path: &Path, name: &str, content: &[u8]) -> std::io::Result<()> {
        let temp = self.dir.join(format!(".{name}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, files::FILE_MODE);
        let mut file = options.open(&temp)?;
        file.write_all(content)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    }
}

/// A header value on one line, whatever the data holds.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The Message-ID header of a message file, if it has one.
fn message_id_in(content: &str) -> Option<&str> {
    content
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix("Message-ID: "))
}

fn io_error(error: std::io::Error) -> DeliveryError {
    // The io error names the file (its id), never the recipient.
    DeliveryError::Transient(error.to_string())
}

impl Channel for FileChannel {
    fn name(&self) -> &'static str {
        "file"
    }

    fn deliver(&mut self, message: &OutboxMessage) -> Result<Delivered, DeliveryError> {
        let name = file_name(message.id);
        let path = self.dir.join(&name);
        let expected = message_id(message, &self.domain);
        match std::fs::read(&path) {
            Ok(existing) => {
                let existing = String::from_utf8_lossy(&existing);
                return if message_id_in(&existing) == Some(expected.as_str()) {
                    // Written before a crash that lost the mark: already delivered. Its
                    // rename may not be synced yet: the flush covers it.
                    self.unsynced = true;
                    Ok(Delivered::Sent)
                } else {
                    Err(DeliveryError::Permanent(format!(
                        "{name} exists with another message in it"
                    )))
                };
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(error)),
        }
        let content = self.render(message);
        self.write_new(&path, &name, content.as_bytes())
            .map_err(io_error)?;
        self.unsynced = true;
        Ok(Delivered::Sent)
    }

    fn flush(&mut self) -> Result<(), DeliveryError> {
        if self.unsynced {
            std::fs::File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(io_error)?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// E-mail through an SMTP server (lettre).
///
/// The blocking transport, not the tokio one: the sender is a thread of its own that does
/// one message at a time between blocking SQLite calls, so an async transport would only
/// add a runtime to drive it; the volume (a few messages per registration, spread over the
/// day) needs no concurrency. TLS is rustls with the Mozilla roots compiled in (no system
/// OpenSSL to install or to go stale).
///
/// SMTP cannot be exactly once: the server may take a message and the connection break
/// before its "250 OK" reaches us, or we may crash between that answer and the mark in the
/// outbox; the message is then sent again after the restart. Each e-mail carries a
/// Message-ID derived from the outbox id, the same on every attempt, so that the receiving
/// side can recognise and drop the repeat. At most the last batch before a crash repeats.
pub struct SmtpChannel {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
    domain: String,
}

/// Why an `--notify smtp://...` setting cannot be used. Never holds the URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("the SMTP URL has no from= parameter (the sender's address)")]
    NoFrom,
    #[error("the from= address of the SMTP URL is not an e-mail address")]
    BadFrom,
    #[error("the SMTP URL cannot be used: {0}")]
    Url(String),
}

impl SmtpChannel {
    /// `smtp://user:pass@host:port?from=kezek%40example.kz` (plain SMTP, or add
    /// `&tls=required` for STARTTLS, `&tls=opportunistic`), or `smtps://...` (TLS from the
    /// first byte, port 465 by default). User and password are optional and
    /// percent-encoded; `from` is required.
    pub fn from_url(url: &str) -> Result<SmtpChannel, SmtpConfigError> {
        let query = url.split_once('?').map_or("", |(_, query)| query);
        let from = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("from="))
            .ok_or(SmtpConfigError::NoFrom)?;
        let mut from: lettre::message::Mailbox = percent_decode(from)
            .ok_or(SmtpConfigError::BadFrom)?
            .parse()
            .map_err(|_| SmtpConfigError::BadFrom)?;
        // `from=Name <address>` keeps the deployment's own name.
        if from.name.is_none() {
            from.name = Some(super::texts::SENDER_NAME.to_string());
        }
        let domain = from.email.domain().to_string();
        let transport = lettre::SmtpTransport::from_url(url)
            // lettre's error may quote the URL (and its password): not passed on.
            .map_err(|_| {
                SmtpConfigError::Url("malformed, or an unknown scheme or tls= value".into())
            })?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(SmtpChannel {
            transport,
            from,
            domain,
        })
    }
}

/// 550 mailbox unavailable, 551 user not local, 553 mailbox name not allowed.
fn recipient_refused(code: u16) -> bool {
    matches!(code, 550 | 551 | 553)
}

/// `%40` → `@`; None if the result is not UTF-8 or an escape is broken.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Channel for SmtpChannel {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn deliver(&mut self, message: &OutboxMessage) -> Result<Delivered, DeliveryError> {
        use lettre::message::SinglePart;
        use lettre::Transport;
        let Some(address) = message.recipient.strip_prefix("mailto:") else {
            // A phone number: SMS is not this channel's work.
            return Ok(Delivered::Skipped);
        };
        let to: lettre::message::Mailbox = address.parse().map_err(|_| {
            DeliveryError::Permanent("the recipient is not a valid e-mail address".into())
        })?;
        let email = lettre::Message::builder()
            .message_id(Some(message_id(message, &self.domain)))
            .date(message.created_at.into())
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            // A MIME part (not a raw body): lettre then writes `MIME-Version: 1.0`, which
            // RFC 2045 requires before the Content-Type and transfer encoding mean anything.
            .singlepart(SinglePart::plain(message.body.clone()))
            .map_err(|e| DeliveryError::Permanent(format!("the message cannot be built: {e}")))?;
        match self.transport.send(&email) {
            Ok(_) => Ok(Delivered::Sent),
            // Only a refusal of this mailbox is final. Anything else (a 535 for a wrong
            // password, a 554 for a full spool, a broken connection) would fail every
            // message alike: it is retried, with backoff, until someone fixes it.
            Err(error) if error.status().map(u16::from).is_some_and(recipient_refused) => {
                Err(DeliveryError::Permanent(error.to_string()))
            }
            Err(error) => Err(DeliveryError::Transient(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_takes_escapes_and_refuses_broken_ones() {
        assert_eq!(
            percent_decode("kezek%40akimat.kz").as_deref(),
            Some("kezek@akimat.kz")
        );
        assert_eq!(percent_decode("a%4"), None);
        assert_eq!(percent_decode("a%zz"), None);
    }

    #[test]
    fn an_smtp_url_needs_a_sender_address() {
        assert!(matches!(
            SmtpChannel::from_url("smtp://localhost:2525"),
            Err(SmtpConfigError::NoFrom)
        ));
        assert!(matches!(
            SmtpChannel::from_url("smtp://localhost:2525?from=nobody"),
            Err(SmtpConfigError::BadFrom)
        ));
        assert!(SmtpChannel::from_url("smtp://u:p@localhost:2525?from=kezek%40example.kz").is_ok());
    }
}
