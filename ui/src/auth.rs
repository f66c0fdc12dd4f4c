//! Who may act: the control token and the Origin/Host rules.
//!
//! - A random 256-bit token is made at start, printed once and written to a file of mode 0600.
//!   Control actions and the WebSocket upgrade must present it.
//! - Browsers send `Origin` on every WebSocket upgrade and every POST; a request whose Origin is
//!   not this server's own (`http://<Host>`) comes from another site's page and is refused.
//! - The `Host` header must name this server: a loopback address or `localhost` (or, with remote
//!   access allowed, any IP literal or a name the operator listed). A DNS name that merely
//!   resolves to us (DNS rebinding: an attacker's page made same-origin with us) is refused.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Bytes of randomness in a token (hex-encoded: twice as many characters).
pub const TOKEN_BYTES: usize = 32;

#[derive(Debug, Error)]
pub enum TokenError {
    #[error("cannot read random bytes for the control token: {0}")]
    Random(std::io::Error),
    #[error("cannot create the folder {path} for the token file: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the token file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The control token (hex). Compared in constant time.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A fresh token from the kernel's CSPRNG.
    pub fn generate() -> Result<Token, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        let mut filled = 0usize;
        // Bounded: getrandom returns at most 256 bytes per call and rarely less than asked.
        for _ in 0..16 {
            if filled == bytes.len() {
                break;
            }
            // Safety: the pointer and length describe the unfilled tail of `bytes`, which lives
            // for the whole call; getrandom writes at most that many bytes.
            let n = unsafe {
                libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
            };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(TokenError::Random(err));
            }
            filled += n as usize;
        }
        if filled != bytes.len() {
            return Err(TokenError::Random(std::io::Error::other(
                "getrandom returned too few bytes",
            )));
        }
        let mut hex = String::with_capacity(TOKEN_BYTES * 2);
        for b in bytes {
            let _ = write!(hex, "{b:02x}");
        }
        Ok(Token(hex))
    }

    /// A token given by the caller (tests, or a token file kept across restarts).
    pub fn from_hex(hex: &str) -> Option<Token> {
        let ok = (32..=128).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Token(hex.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison: the time taken does not depend on where a guess differs.
    pub fn matches(&self, presented: &str) -> bool {
        let a = self.0.as_bytes();
        let b = presented.as_bytes();
        let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
        for (i, x) in a.iter().enumerate() {
            diff |= x ^ b.get(i).copied().unwrap_or(0);
        }
        diff == 0
    }

    /// The token kept in `path` by an earlier start, if the file is ours, mode 0600 and holds a
    /// valid token: a restarted UI actor keeps its token, so open cockpits and pasted tokens
    /// stay valid. Anything else (missing, wider mode, foreign owner, junk) gives None.
    pub fn read_file(path: &Path) -> Option<Token> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(path).ok()?;
        // Safety: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        if !meta.file_type().is_file()
            || meta.uid() != uid
            || meta.permissions().mode() & 0o077 != 0
        {
            return None;
        }
        Token::from_hex(fs::read_to_string(path).ok()?.trim())
    }

    /// Write the token to `path` with mode 0600 (the folder is created 0700 if missing). An
    /// existing file is replaced, and its mode forced back to 0600 in case someone widened it.
    pub fn write_file(&self, path: &Path) -> Result<(), TokenError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                fs::create_dir_all(dir).map_err(|source| TokenError::Folder {
                    path: dir.to_path_buf(),
                    source,
                })?;
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
            }
        }
        let werr = |source| TokenError::Write {
            path: path.to_path_buf(),
            source,
        };
        // O_NOFOLLOW: a symlink planted at the token path must not redirect the write (and the
        // chmod) to its target. No truncation until the opened file is known to be ours.
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| match source.raw_os_error() {
                Some(libc::ELOOP) => TokenError::Write {
                    path: path.to_path_buf(),
                    source: std::io::Error::other(
                        "the token path is a symbolic link; remove it or choose another token file",
                    ),
                },
                _ => werr(source),
            })?;
        let meta = f.metadata().map_err(werr)?;
        // Safety: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        if !meta.file_type().is_file() || std::os::unix::fs::MetadataExt::uid(&meta) != uid {
            return Err(werr(std::io::Error::other(
                "the token path is not a regular file owned by this user",
            )));
        }
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(werr)?;
        f.set_len(0).map_err(werr)?;
        f.write_all(self.0.as_bytes()).map_err(werr)?;
        f.write_all(b"\n").map_err(werr)?;
        Ok(())
    }
}

/// Why a request was refused (maps to 401 or 403).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("missing control token (send `Authorization: Bearer <token>`)")]
    NoToken,
    #[error("wrong control token")]
    BadToken,
    #[error("missing Origin header: control actions are accepted from the cockpit page only")]
    NoOrigin,
    #[error("foreign Origin {0:?}: only this server's own pages may act")]
    ForeignOrigin(String),
    #[error("Host {0:?} does not name this server (use 127.0.0.1 or localhost)")]
    BadHost(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NoToken | Refusal::BadToken => 401,
            _ => 403,
        }
    }
}

/// Which Host/Origin values name this server.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// The port the server listens on.
    pub port: u16,
    /// Remote (non-loopback) clients allowed: any IP literal Host is then accepted.
    pub allow_remote: bool,
    /// Extra host names (without port) the operator put in front of us, e.g. a proxy's name.
    pub extra_hosts: Vec<String>,
}

impl OriginPolicy {
    /// Does this `Host` header (host[:port]) name this server?
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some((name, port)) = split_host_port(host) else {
            return false;
        };
        if port.unwrap_or(80) != self.port {
            return false;
        }
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            return ip.is_loopback() || self.allow_remote;
        }
        self.extra_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Is this Host a loopback name (the only case where the token is put into the page)?
    pub fn host_is_loopback(&self, host: &str) -> bool {
        match split_host_port(host) {
            Some((name, port)) if port.unwrap_or(80) == self.port => {
                name.eq_ignore_ascii_case("localhost")
                    || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            _ => false,
        }
    }

    /// Same-origin rule: `Origin` must be `http://<Host>` and the Host must name this server.
    /// `origin_required`: control actions need it; the WebSocket accepts clients without one
    /// (non-browser tools cannot be driven by a web page, and still need the token).
    pub fn check_origin(
        &self,
        origin: Option<&str>,
        host: Option<&str>,
        origin_required: bool,
    ) -> Result<(), Refusal> {
        let host = host.unwrap_or("");
        if !self.host_allowed(host) {
            return Err(Refusal::BadHost(host.to_string()));
        }
        match origin {
            None if origin_required => Err(Refusal::NoOrigin),
            None => Ok(()),
            Some(o) => {
                let same = o
                    .strip_prefix("http://")
                    .is_some_and(|rest| rest.eq_ignore_ascii_case(host));
                if same {
                    Ok(())
                } else {
                    Err(Refusal::ForeignOrigin(o.to_string()))
                }
            }
        }
    }
}

/// `Authorization: Bearer <token>` → token.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, rest) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The token offered in `Sec-WebSocket-Protocol` as `token.<hex>` (browsers cannot set headers
/// on an upgrade).
pub fn protocol_token(header: Option<&str>) -> Option<&str> {
    header?
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("token."))
}

/// Check a presented token.
pub fn check_token(token: &Token, presented: Option<&str>) -> Result<(), Refusal> {
    match presented {
        None | Some("") => Err(Refusal::NoToken),
        Some(p) if token.matches(p) => Ok(()),
        Some(_) => Err(Refusal::BadToken),
    }
}

/// "host:port", "[v6]:port", "host" → (host without brackets, port).
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        return match after {
            "" => Some((inner, None)),
            p => Some((inner, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p.parse().ok()?))),
        Some(_) => None, // bare IPv6 without brackets is not a valid Host
        None => Some((s, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> OriginPolicy {
        OriginPolicy {
            port: 8787,
            allow_remote: false,
            extra_hosts: vec![],
        }
    }

    #[test]
    fn tokens_are_64_hex_chars_and_differ() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(&a.as_str()[..63]));
        assert!(!a.matches(""));
        assert!(!a.matches(&format!("{}0", a.as_str())));
    }

    #[test]
    fn token_file_is_0600_even_over_a_wider_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("ui.token");
        let t = Token::from_hex(&"ab".repeat(32)).unwrap();
        t.write_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), t.as_str());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        t.write_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn the_token_is_never_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, "keep me\n").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().join("ui.token");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let t = Token::from_hex(&"ab".repeat(32)).unwrap();
        let e = t.write_file(&path).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");
        let mode = fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "the target's mode is untouched");
        assert!(
            Token::read_file(&path).is_none(),
            "nor is a token read through it"
        );
    }

    #[test]
    fn a_kept_token_is_reused_only_from_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui.token");
        assert!(Token::read_file(&path).is_none(), "missing");
        let t = Token::from_hex(&"ef".repeat(32)).unwrap();
        t.write_file(&path).unwrap();
        assert_eq!(Token::read_file(&path).unwrap().as_str(), t.as_str());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            Token::read_file(&path).is_none(),
            "readable by others: not trusted"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not a token").unwrap();
        assert!(Token::read_file(&path).is_none(), "junk");
    }

    #[test]
    fn hosts_that_name_us() {
        let p = policy();
        assert!(p.host_allowed("127.0.0.1:8787"));
        assert!(p.host_allowed("localhost:8787"));
        assert!(p.host_allowed("[::1]:8787"));
        assert!(!p.host_allowed("127.0.0.1:9999"), "other port");
        assert!(!p.host_allowed("127.0.0.1"), "implied port 80");
        assert!(!p.host_allowed("evil.example:8787"), "DNS rebinding name");
        assert!(
            !p.host_allowed("10.0.0.5:8787"),
            "remote IP while loopback only"
        );
        assert!(!p.host_allowed(""));
        let remote = OriginPolicy {
            allow_remote: true,
            extra_hosts: vec!["cockpit.lan".into()],
            ..policy()
        };
        assert!(remote.host_allowed("10.0.0.5:8787"));
        assert!(remote.host_allowed("cockpit.lan:8787"));
        assert!(!remote.host_allowed("evil.example:8787"));
        assert!(!remote.host_is_loopback("10.0.0.5:8787"));
        assert!(remote.host_is_loopback("localhost:8787"));
    }

    #[test]
    fn same_origin_rule() {
        let p = policy();
        let h = Some("127.0.0.1:8787");
        assert_eq!(
            p.check_origin(Some("http://127.0.0.1:8787"), h, true),
            Ok(())
        );
        assert_eq!(
            p.check_origin(Some("http://evil.example"), h, true),
            Err(Refusal::ForeignOrigin("http://evil.example".into()))
        );
        // same host, other scheme or port: a different origin
        assert!(p
            .check_origin(Some("https://127.0.0.1:8787"), h, true)
            .is_err());
        assert!(p
            .check_origin(Some("http://127.0.0.1:8788"), h, true)
            .is_err());
        assert!(p.check_origin(Some("null"), h, true).is_err());
        assert_eq!(p.check_origin(None, h, true), Err(Refusal::NoOrigin));
        assert_eq!(p.check_origin(None, h, false), Ok(()));
        assert_eq!(
            p.check_origin(
                Some("http://evil.example:8787"),
                Some("evil.example:8787"),
                true
            ),
            Err(Refusal::BadHost("evil.example:8787".into()))
        );
    }

    #[test]
    fn token_extraction() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
        assert_eq!(protocol_token(Some("cockpit.v1, token.abc")), Some("abc"));
        assert_eq!(protocol_token(Some("cockpit.v1")), None);
        let t = Token::from_hex(&"cd".repeat(32)).unwrap();
        assert_eq!(check_token(&t, None), Err(Refusal::NoToken));
        assert_eq!(check_token(&t, Some("00")), Err(Refusal::BadToken));
        assert_eq!(check_token(&t, Some(&"cd".repeat(32))), Ok(()));
        assert_eq!(Refusal::BadToken.status(), 401);
        assert_eq!(Refusal::NoOrigin.status(), 403);
    }
}
