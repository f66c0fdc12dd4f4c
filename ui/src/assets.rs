//! The built cockpit, embedded in the binary. `make cockpit-build` writes `ui/web/dist`; a
//! build before that embeds an empty folder and every page answers 503 with the remedy.

use std::borrow::Cow;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Dist;

/// Where the cockpit's files come from (the embedded build; tests can give another).
pub trait AssetSource: Send + Sync + 'static {
    /// File bytes and MIME type for a path relative to the site root (no leading '/').
    fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)>;
}

/// The files `npm run build` produced, compiled in.
pub struct EmbeddedAssets;

impl AssetSource for EmbeddedAssets {
    fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        let f = Dist::get(path)?;
        let mime = f.metadata.mimetype().to_string();
        Some((f.data, mime))
    }
}

pub const NOT_BUILT: &str =
    "cockpit not built: run make cockpit-build (then rebuild the engine so the files are embedded)\n";

/// The placeholder in index.html's `<meta name="cockpit-token">`.
pub const TOKEN_PLACEHOLDER: &str = "__COCKPIT_TOKEN__";

/// What to answer for a GET of `path`.
#[derive(Debug, PartialEq, Eq)]
pub enum Page {
    /// 200 with body and content type; `cache` true for content-hashed assets.
    File {
        body: Vec<u8>,
        mime: String,
        cache: bool,
    },
    NotFound,
    NotBuilt,
}

/// Resolve a request path. `token`: Some for loopback clients (put into index.html), None
/// for the rest (they paste it). Unknown paths without a file extension get index.html so the
/// app can be reloaded on any route.
pub fn resolve(src: &dyn AssetSource, path: &str, token: Option<&str>) -> Page {
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|seg| seg == "..") {
        return Page::NotFound;
    }
    let last = rel.rsplit('/').next().unwrap_or("");
    let is_index = rel.is_empty() || rel == "index.html" || !last.contains('.');
    if is_index {
        let Some((body, _)) = src.get("index.html") else {
            return Page::NotBuilt;
        };
        let html = String::from_utf8_lossy(&body);
        let html = html.replace(TOKEN_PLACEHOLDER, token.unwrap_or(""));
        return Page::File {
            body: html.into_bytes(),
            mime: "text/html; charset=utf-8".into(),
            cache: false,
        };
    }
    match src.get(rel) {
        Some((body, mime)) => Page::File {
            body: body.into_owned(),
            mime,
            cache: rel.starts_with("assets/"),
        },
        None if src.get("index.html").is_none() => Page::NotBuilt,
        None => Page::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Mem(HashMap<&'static str, &'static str>);
    impl AssetSource for Mem {
        fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
            self.0.get(path).map(|s| {
                (
                    Cow::Borrowed(s.as_bytes()),
                    "application/javascript".to_string(),
                )
            })
        }
    }

    fn site() -> Mem {
        Mem(HashMap::from([
            (
                "index.html",
                "<meta name=\"cockpit-token\" content=\"__COCKPIT_TOKEN__\">",
            ),
            ("assets/app-1234.js", "js"),
        ]))
    }

    #[test]
    fn token_goes_into_index_only_when_given() {
        let Page::File { body, cache, .. } = resolve(&site(), "/", Some("abc")) else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "<meta name=\"cockpit-token\" content=\"abc\">"
        );
        assert!(!cache);
        let Page::File { body, .. } = resolve(&site(), "/index.html", None) else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "<meta name=\"cockpit-token\" content=\"\">"
        );
    }

    #[test]
    fn assets_routes_and_refusals() {
        assert!(matches!(
            resolve(&site(), "/assets/app-1234.js", None),
            Page::File { cache: true, .. }
        ));
        assert_eq!(resolve(&site(), "/assets/nope.js", None), Page::NotFound);
        assert_eq!(
            resolve(&site(), "/assets/../index.html", None),
            Page::NotFound
        );
        assert!(matches!(
            resolve(&site(), "/some/route", None),
            Page::File { cache: false, .. }
        ));
        let empty = Mem(HashMap::new());
        assert_eq!(resolve(&empty, "/", None), Page::NotBuilt);
        assert_eq!(resolve(&empty, "/assets/app.js", None), Page::NotBuilt);
    }
}
