//! Malware scanning of attached files through a ClamAV daemon (issue 19 §6), when
//! `[attachments] clamd` names one: a Unix socket path, or `tcp:host:port`.
//!
//! clamd's INSTREAM command, written here (a few dozen lines of blocking socket IO, run on
//! the blocking pool; no crate needed): `zINSTREAM\0`, then the file as
//! chunks each preceded by its length (4 bytes, big-endian), then a zero length; clamd
//! answers `stream: OK`, `stream: <signature> FOUND`, or `... ERROR`, NUL-terminated.
//! Anything but a clean answer or a match (no daemon, a timeout, an error, a size limit)
//! is `Unavailable`: the caller refuses the file, it is never accepted unscanned.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Where clamd listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clamd {
    Unix(PathBuf),
    Tcp(String),
}

impl Clamd {
    /// `tcp:host:port`, or else a Unix socket's path.
    pub fn parse(text: &str) -> Clamd {
        match text.strip_prefix("tcp:") {
            Some(address) => Clamd::Tcp(address.to_string()),
            None => Clamd::Unix(PathBuf::from(text)),
        }
    }
}

/// What clamd said of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature that matched, as clamd names it (printable ASCII, at most 120
    /// characters: it is journaled).
    Infected(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("clamd cannot be reached: {0}")]
    Unreachable(#[from] std::io::Error),
    #[error("clamd answered {0:?}")]
    Answer(String),
}

/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;
/// Long enough for a 10 MB file on a loaded machine; a daemon that hangs is a daemon down.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `bytes` to clamd and reads its verdict (blocking).
pub fn scan(clamd: &Clamd, bytes: &[u8], timeout: Duration) -> Result<Verdict, ScanError> {
    let answer = match clamd {
        Clamd::Unix(path) => {
            let stream = std::os::unix::net::UnixStream::connect(path)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            exchange(stream, bytes)?
        }
        Clamd::Tcp(address) => {
            let address = std::net::ToSocketAddrs::to_socket_addrs(address)?
                .next()
                .ok_or_else(|| std::io::Error::other("no address"))?;
            let stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
            stream.set_read_timeout(Some(timeout))?;
            stream.set_write_timeout(Some(timeout))?;
            exchange(stream, bytes)?
        }
    };
    verdict(&answer)
}

fn exchange(mut stream: impl Read + Write, bytes: &[u8]) -> std::io::Result<String> {
    stream.write_all(b"zINSTREAM\0")?;
    for chunk in bytes.chunks(CHUNK) {
        stream.write_all(&(chunk.len() as u32).to_be_bytes())?;
        stream.write_all(chunk)?;
    }
    stream.write_all(&0u32.to_be_bytes())?;
    stream.flush()?;
    let mut answer = Vec::new();
    stream.take(4096).read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer)
        .trim_end_matches(['\0', '\n'])
        .to_string())
}

/// clamd's answer read: `stream: OK`, `stream: NAME FOUND`; anything else is an error.
fn verdict(answer: &str) -> Result<Verdict, ScanError> {
    let body = answer.strip_prefix("stream: ").unwrap_or(answer);
    if body == "OK" {
        return Ok(Verdict::Clean);
    }
    match body.strip_suffix(" FOUND") {
        Some(name) if !name.is_empty() => {
            let name: String = name
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .take(120)
                .collect();
            Ok(Verdict::Infected(name))
        }
        _ => Err(ScanError::Answer(answer.chars().take(200).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_clean_found_or_an_error() {
        assert_eq!(verdict("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            verdict("stream: Eicar-Test-Signature FOUND").unwrap(),
            Verdict::Infected("Eicar-Test-Signature".into())
        );
        assert!(verdict("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(verdict("stream:  FOUND").is_err());
        assert!(verdict("").is_err());
    }

    #[test]
    fn the_address_is_a_socket_path_or_tcp() {
        assert_eq!(
            Clamd::parse("/run/clamav/clamd.ctl"),
            Clamd::Unix("/run/clamav/clamd.ctl".into())
        );
        assert_eq!(
            Clamd::parse("tcp:127.0.0.1:3310"),
            Clamd::Tcp("127.0.0.1:3310".into())
        );
    }

    #[test]
    fn the_stream_is_length_prefixed_chunks_ending_in_zero() {
        struct Wire {
            sent: Vec<u8>,
            reply: std::io::Cursor<Vec<u8>>,
        }
        impl Read for Wire {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.reply.read(buf)
            }
        }
        impl Write for Wire {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.sent.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let file = vec![7u8; CHUNK + 3];
        let mut wire = Wire {
            sent: Vec::new(),
            reply: std::io::Cursor::new(b"stream: OK\0".to_vec()),
        };
        assert_eq!(exchange(&mut wire, &file).unwrap(), "stream: OK");
        let sent = wire.sent;
        assert!(sent.starts_with(b"zINSTREAM\0"));
        let rest = &sent[10..];
        assert_eq!(rest[..4], (CHUNK as u32).to_be_bytes());
        let second = &rest[4 + CHUNK..];
        assert_eq!(second[..4], 3u32.to_be_bytes());
        assert_eq!(&second[7..], &0u32.to_be_bytes());
    }
}
