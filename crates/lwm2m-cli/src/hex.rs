//! Hex text for payloads on the command line (`--hex`, `codec --hex`, opaque values in JSON).

use std::fmt::Write;

use anyhow::bail;

/// Parses hex digits, ignoring whitespace: `"0a ff"` is `[0x0a, 0xff]`. Only `0-9a-fA-F`.
pub(crate) fn parse(text: &str) -> anyhow::Result<Vec<u8>> {
    let mut digits = Vec::with_capacity(text.len());
    for (at, c) in text.char_indices().filter(|(_, c)| !c.is_whitespace()) {
        match c.to_digit(16) {
            // to_digit(16) is below 16, so it fits a u8.
            Some(d) => digits.push(d as u8),
            None => bail!("invalid hex digit {c:?} at character {at}"),
        }
    }
    if !digits.len().is_multiple_of(2) {
        bail!("hex payload has an odd number of digits");
    }
    Ok(digits.chunks_exact(2).map(|pair| (pair[0] << 4) | pair[1]).collect())
}

/// Lower-case hex digits of `bytes`, no separators.
pub(crate) fn encode(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(parse("0a ff\n10").unwrap(), vec![0x0a, 0xff, 0x10]);
        assert!(parse("abc").is_err(), "odd");
        assert!(parse("+f").is_err(), "a sign is not a digit");
        assert!(parse("aéa").is_err(), "non-ASCII is an error, not a panic");
        assert_eq!(encode(&[0, 0xab]), "00ab");
        assert_eq!(parse(&encode(&[1, 2, 254])).unwrap(), vec![1, 2, 254]);
    }
}
