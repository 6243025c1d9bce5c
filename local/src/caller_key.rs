//! The local runner's caller key: a file in the data folder, made on first use (readable by
//! this user only) and kept, so caller tokens survive restarts.

use rand::RngCore;
use secrecy::SecretString;

/// The caller key kept in `dir`, made there if absent (readable by this user only). A key file
/// someone shortened is refused, not used: an empty key would sign tokens anyone could forge.
pub fn key_in(dir: &std::path::Path) -> Result<SecretString, Box<dyn std::error::Error>> {
    let path = dir.join("caller-key");
    match std::fs::read_to_string(&path) {
        Ok(existing) => return existing_key(&path, existing),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        // A key that is there but does not read (a folder, not UTF-8, no permission) is not
        // replaced: tokens it signed would stop working without a word.
        Err(err) => return Err(format!("the caller key {} cannot be read: {err}", path.display()).into()),
    }
    shared::adapters::embedded::create_private_dir(dir)?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, key.as_bytes())?;
            file.sync_all()?;
            Ok(SecretString::from(key))
        }
        // Another runner sharing the folder made it first: use that one.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            existing_key(&path, std::fs::read_to_string(&path)?)
        }
        Err(err) => Err(err.into()),
    }
}

/// A key file's content as the caller key, refused when someone shortened it.
fn existing_key(path: &std::path::Path, content: String) -> Result<SecretString, Box<dyn std::error::Error>> {
    let key = SecretString::from(content.trim().to_string());
    shared::domain::secrets::require_strong_key("caller-token signing key", &key)
        .map_err(|err| format!("{err} ({}); remove the file to make a new one", path.display()))?;
    keep_private(path)?;
    Ok(key)
}

/// Narrows a key file that others could read to this user (files copied by hand often are).
fn keep_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "the caller key was readable by others; its mode is now 0600");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn a_short_caller_key_file_is_refused_and_a_missing_one_made_strong_and_private() {
        let dir = std::env::temp_dir().join(format!("oore-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("caller-key"), "short\n").unwrap();
        let err = key_in(&dir).unwrap_err().to_string();
        assert!(
            err.contains("5 bytes long") && err.contains("at least 32 bytes"),
            "{err}"
        );
        std::fs::remove_file(dir.join("caller-key")).unwrap();
        let made = key_in(&dir).unwrap();
        assert_eq!(made.expose_secret().len(), 64);
        let mode = || {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join("caller-key")).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode(), 0o600, "a made key is readable by its owner only");
        std::fs::set_permissions(
            dir.join("caller-key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(key_in(&dir).unwrap().expose_secret(), made.expose_secret());
        assert_eq!(mode(), 0o600, "a key others could read is narrowed");
        let fresh = dir.join("fresh");
        key_in(&fresh).unwrap();
        let folder_mode = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(folder_mode, 0o700, "a data folder made for the key is private");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_caller_key_that_does_not_read_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the key should be, then bytes that are not UTF-8.
        std::fs::create_dir(dir.path().join("caller-key")).unwrap();
        let err = key_in(dir.path()).unwrap_err().to_string();
        assert!(err.contains("cannot be read"), "{err}");
        std::fs::remove_dir(dir.path().join("caller-key")).unwrap();
        std::fs::write(dir.path().join("caller-key"), [0xff, 0xfe, 0x00]).unwrap();
        let err = key_in(dir.path()).unwrap_err().to_string();
        assert!(err.contains("cannot be read"), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join("caller-key")).unwrap(),
            [0xff, 0xfe, 0x00],
            "left as it was"
        );
    }
}
