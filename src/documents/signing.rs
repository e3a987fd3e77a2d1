//! The deployment's signing key: Ed25519, generated on first start into the data directory
//! (beside the database), never sent anywhere. Back it up with the database: without it,
//! documents already handed out can no longer be checked.

use crate::domain::document::DocumentData;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name in the data directory: the 32-byte seed, hex.
pub const KEY_FILE: &str = "signing-ed25519.key";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the signing key {path} cannot be read or written: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signing key {0} is not 64 hex digits")]
    Malformed(PathBuf),
}

pub struct DocumentSigner {
    key: SigningKey,
    key_id: String,
}

/// The public half, as `GET /api/v1/keys` publishes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicKey {
    /// The first 8 bytes of SHA-256 over the key, hex: names the key in every signature.
    pub id: String,
    pub algorithm: String,
    /// The 32-byte Ed25519 public key, base64url without padding.
    pub public_key: String,
}

impl DocumentSigner {
    /// Reads the key from `dir`, or makes one there if there is none (the first start).
    pub fn load_or_create(dir: &Path) -> Result<DocumentSigner, KeyError> {
        let path = dir.join(KEY_FILE);
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let seed: [u8; 32] = hex::decode(text.trim())
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| KeyError::Malformed(path.clone()))?;
                Ok(DocumentSigner::from_seed(seed))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let seed: [u8; 32] = rand::random();
                // Written to a temporary file and renamed: a crash leaves no half key, and
                // a second process starting at the same moment cannot mix two keys.
                let temporary = dir.join(format!("{KEY_FILE}.{}", std::process::id()));
                {
                    let mut options = std::fs::OpenOptions::new();
                    options.write(true).create_new(true);
                    #[cfg(unix)]
                    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                    let mut file = options.open(&temporary).map_err(io)?;
                    file.write_all(hex::encode(seed).as_bytes()).map_err(io)?;
                    file.sync_all().map_err(io)?;
                }
                std::fs::rename(&temporary, &path).map_err(io)?;
                if let Ok(directory) = std::fs::File::open(dir) {
                    let _ = directory.sync_all();
                }
                tracing::info!("a new document signing key was made");
                Ok(DocumentSigner::from_seed(seed))
            }
            Err(error) => Err(io(error)),
        }
    }

    pub fn from_seed(seed: [u8; 32]) -> DocumentSigner {
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(&key.verifying_key());
        DocumentSigner { key, key_id }
    }

    /// The signature over the document's canonical bytes, base64url without padding.
    pub fn sign(&self, data: &DocumentData) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(&data.signed_bytes()).to_bytes())
    }

    /// A signature over other bytes (an open-data snapshot's descriptor), base64url without
    /// padding. The caller puts a label of its own in front, so that no such signature can
    /// pass for a document's.
    pub fn sign_bytes(&self, bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(bytes).to_bytes())
    }

    pub fn verify(&self, data: &DocumentData, signature: &str) -> bool {
        verify_with(&self.key.verifying_key(), data, signature)
    }

    /// A secret for another purpose (the web pages' session cookies), derived from the
    /// deployment's key so that there is one secret file to keep and back up. Hashing with
    /// a purpose label keeps the derived secrets independent of each other and of the
    /// signatures.
    pub fn derive_secret(&self, purpose: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"kezek derived secret v1\0");
        hasher.update(purpose.as_bytes());
        hasher.update(b"\0");
        hasher.update(self.key.to_bytes());
        hasher.finalize().into()
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            id: self.key_id.clone(),
            algorithm: "Ed25519".into(),
            public_key: URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes()),
        }
    }
}

/// A key's id: the first 8 bytes of SHA-256 over it, hex (what signatures and `GET /api/v1/keys` name).
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.to_bytes())[..8])
}

/// Checks a signature with a published public key: what anyone holding the key can do
/// without asking the service.
pub fn verify_with(key: &VerifyingKey, data: &DocumentData, signature: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature.trim()) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
        return false;
    };
    key.verify(&data.signed_bytes(), &Signature::from_bytes(&bytes))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The renderers' sample notice: one document shape for every test of documents.
    fn data() -> DocumentData {
        crate::documents::render::samples::notice()
    }

    #[test]
    fn one_changed_byte_of_the_signed_data_fails_verification() {
        let signer = DocumentSigner::from_seed([7; 32]);
        let data = data();
        let signature = signer.sign(&data);
        assert!(signer.verify(&data, &signature));
        // Every single byte of the signed data matters: change each in turn.
        let bytes = data.signed_bytes();
        let key = signer.key.verifying_key();
        let raw = URL_SAFE_NO_PAD.decode(&signature).unwrap();
        let raw = Signature::from_bytes(&raw.try_into().unwrap());
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            assert!(key.verify(&changed, &raw).is_err(), "byte {i} changed");
        }
        // And through the data: one letter of the name (the first ү made у).
        let mut forged = data.clone();
        forged.child_full_name = forged.child_full_name.replacen('ү', "у", 1);
        assert_ne!(forged.child_full_name, data.child_full_name);
        assert!(!signer.verify(&forged, &signature));
        // A signature from another deployment's key does not pass either.
        let other = DocumentSigner::from_seed([8; 32]);
        assert!(!signer.verify(&data, &other.sign(&data)));
        assert!(!signer.verify(&data, "not base64!"));
    }

    /// Papers printed before the notice named the applicant carry a signature over the
    /// first shape; `documents::verify` checks that shape too, and it must be exactly the
    /// bytes signed then.
    #[test]
    fn the_first_shape_is_the_old_bytes_and_only_its_signature_fits_it() {
        let signer = DocumentSigner::from_seed([7; 32]);
        let data = crate::documents::render::samples::notice();
        assert!(data.applicant_full_name.is_some());
        let old_signature = signer.sign(&data.first_shape());
        assert!(!signer.verify(&data, &old_signature));
        assert!(signer.verify(&data.first_shape(), &old_signature));
        let bytes = String::from_utf8(data.first_shape().signed_bytes()).unwrap();
        assert!(!bytes.contains("applicant_full_name") && !bytes.contains("education_head"));
        assert!(bytes.ends_with(r#""refusal_text":null}"#), "{bytes}");
    }

    #[test]
    fn the_key_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = DocumentSigner::load_or_create(dir.path()).unwrap();
        let again = DocumentSigner::load_or_create(dir.path()).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        assert_eq!(first.public_key().id.len(), 16);
        let signature = first.sign(&data());
        assert!(again.verify(&data(), &signature));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner reads the key");
        }
        std::fs::write(dir.path().join(KEY_FILE), "zz").unwrap();
        assert!(matches!(
            DocumentSigner::load_or_create(dir.path()),
            Err(KeyError::Malformed(_))
        ));
    }
}
