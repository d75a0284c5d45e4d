//! The cookie signer, byte-compatible with itsdangerous's `Signer(secret,
//! salt="flask-session", key_derivation="hmac")` as Flask-Session uses it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::id::SessionId;

type HmacSha1 = Hmac<Sha1>;

const SALT: &[u8] = b"flask-session";

/// What verification found in a signed cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Signed with the current key.
    Current(SessionId),
    /// Signed with a fallback key: valid, but the cookie should be re-signed.
    Fallback(SessionId),
}

impl Verified {
    /// The session id, whichever key signed it.
    pub fn into_id(self) -> SessionId {
        match self {
            Self::Current(id) | Self::Fallback(id) => id,
        }
    }
}

/// Signs with the first key and verifies with it, then with each fallback.
#[derive(Clone)]
pub struct Signer {
    /// Derived keys: `HMAC-SHA1(secret, "flask-session")`, current first.
    derived: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("keys", &self.derived.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer over `secret`, also accepting cookies signed with `fallbacks`.
    pub fn new<'a>(secret: &'a str, fallbacks: impl IntoIterator<Item = &'a str>) -> Self {
        let derived = std::iter::once(secret)
            .chain(fallbacks)
            .map(|key| mac_of(key.as_bytes(), SALT))
            .collect();
        Self { derived }
    }

    /// `sid + "." + base64url_nopad(HMAC-SHA1(derived, sid))`.
    pub fn sign(&self, id: &SessionId) -> String {
        let sig = mac_of(&self.derived[0], id.expose().as_bytes());
        format!("{}.{}", id.expose(), URL_SAFE_NO_PAD.encode(sig))
    }

    /// Splits at the last `.`, checks the sid's shape, then the signature with each
    /// key in a constant-time compare. `None` for anything not validly signed.
    pub fn verify(&self, cookie_value: &str) -> Option<Verified> {
        let (sid, signature) = cookie_value.rsplit_once('.')?;
        let id = SessionId::parse(sid)?;
        // A SHA-1 MAC is 20 bytes, 27 base64 chars; anything longer is not ours.
        if signature.len() > 32 {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let position = self.derived.iter().position(|key| {
            let Ok(mut mac) = <HmacSha1 as KeyInit>::new_from_slice(key) else {
                return false;
            };
            mac.update(sid.as_bytes());
            mac.verify_slice(&signature).is_ok()
        })?;
        Some(if position == 0 {
            Verified::Current(id)
        } else {
            Verified::Fallback(id)
        })
    }
}

pub(crate) fn mac_of(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the error arm cannot happen.
    match <HmacSha1 as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SID: &str = "ZvBpGWIYXua8yTuiuJVKzCJzrovCnUQDKVBkvMnlHHE";

    #[test]
    fn matches_the_itsdangerous_reference_vector() {
        let signer = Signer::new("secret", []);
        let id = SessionId::parse(SID).unwrap();
        assert_eq!(
            signer.sign(&id),
            "ZvBpGWIYXua8yTuiuJVKzCJzrovCnUQDKVBkvMnlHHE.4nfCGj4uA4I0HNeTlmfOfU6rfyc"
        );
    }

    #[test]
    fn verifies_own_signature_and_rejects_tampering() {
        let signer = Signer::new("secret", []);
        let id = SessionId::parse(SID).unwrap();
        let cookie = signer.sign(&id);
        assert_eq!(signer.verify(&cookie), Some(Verified::Current(id)));
        let mut forged = cookie.clone();
        forged.pop();
        forged.push('A');
        assert_eq!(signer.verify(&forged), None);
        assert_eq!(signer.verify(SID), None, "unsigned sid");
        assert_eq!(signer.verify(&format!("{SID}.")), None, "empty signature");
        let other = Signer::new("another secret", []);
        assert_eq!(other.verify(&cookie), None, "signed with another key");
    }

    #[test]
    fn fallback_keys_verify_and_ask_for_resigning() {
        let old = Signer::new("old-secret", []);
        let rotated = Signer::new("new-secret", ["old-secret"]);
        let id = SessionId::parse(SID).unwrap();
        assert_eq!(
            rotated.verify(&old.sign(&id)),
            Some(Verified::Fallback(id.clone()))
        );
        assert_eq!(
            rotated.verify(&rotated.sign(&id)),
            Some(Verified::Current(id))
        );
    }
}
