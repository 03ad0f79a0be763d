//! Binding modes: which transports a client is reachable on, and whether it uses queue mode.
//!
//! LwM2M 1.0 packs queue mode into the binding string (`b=UQ`, `UQS`); 1.1 and later carry
//! the transports alone (`b=UT`) and queue mode as a separate bare `Q` parameter. A server
//! must understand both; [`BindingMode::parse`] follows the peer's version strictly and
//! [`BindingMode::parse_lenient`] accepts either form.

use alloc::string::String;
use core::fmt;

use crate::error::BindingError;
use crate::version::LwM2mVersion;

/// One transport of a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// `U`: UDP.
    Udp,
    /// `T`: TCP (1.1+).
    Tcp,
    /// `S`: SMS.
    Sms,
    /// `N`: Non-IP (1.1+).
    NonIp,
    /// `M`: MQTT (1.2).
    Mqtt,
    /// `H`: HTTP (1.2).
    Http,
}

impl Transport {
    /// All transports, in canonical letter order (`U T S N M H`).
    pub const ALL: [Transport; 6] =
        [Transport::Udp, Transport::Tcp, Transport::Sms, Transport::NonIp, Transport::Mqtt, Transport::Http];

    /// The binding letter.
    pub const fn letter(self) -> char {
        match self {
            Transport::Udp => 'U',
            Transport::Tcp => 'T',
            Transport::Sms => 'S',
            Transport::NonIp => 'N',
            Transport::Mqtt => 'M',
            Transport::Http => 'H',
        }
    }

    /// The transport for a letter.
    pub fn from_letter(c: char) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.letter() == c)
    }

    /// The first enabler version that defines this transport.
    pub const fn since(self) -> LwM2mVersion {
        match self {
            Transport::Udp | Transport::Sms => LwM2mVersion::V1_0,
            Transport::Tcp | Transport::NonIp => LwM2mVersion::V1_1,
            Transport::Mqtt | Transport::Http => LwM2mVersion::V1_2,
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of transports plus the queue-mode flag.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BindingMode {
    transports: u8,
    /// Queue mode: the client may sleep and the server queues its requests.
    pub queue: bool,
}

impl BindingMode {
    /// `U`: UDP, no queue mode (the default binding).
    pub const UDP: BindingMode = BindingMode { transports: Transport::Udp.bit(), queue: false };

    /// An empty binding (no transport).
    pub const fn empty() -> Self {
        BindingMode { transports: 0, queue: false }
    }

    /// Adds a transport.
    #[must_use]
    pub const fn with(mut self, t: Transport) -> Self {
        self.transports |= t.bit();
        self
    }

    /// Sets queue mode.
    #[must_use]
    pub const fn with_queue(mut self, queue: bool) -> Self {
        self.queue = queue;
        self
    }

    /// True when `t` is in the set.
    pub const fn contains(&self, t: Transport) -> bool {
        self.transports & t.bit() != 0
    }

    /// The transports, in canonical order.
    pub fn transports(&self) -> impl Iterator<Item = Transport> + '_ {
        Transport::ALL.into_iter().filter(|t| self.contains(*t))
    }

    /// Parses the `b` parameter as a peer of `version` sends it, with `q` the presence of
    /// the separate 1.1+ `Q` parameter (ignored for 1.0).
    ///
    /// 1.0: one of `U, UQ, S, SQ, US, UQS`. 1.1+: a set of the letters defined in that
    /// version (`U T S N`, plus `M H` in 1.2), without `Q`.
    pub fn parse(b: &str, q: bool, version: LwM2mVersion) -> Result<Self, BindingError> {
        if version == LwM2mVersion::V1_0 {
            return match b {
                "U" | "UQ" | "S" | "SQ" | "US" | "UQS" => Self::parse_lenient(b),
                "" => Err(BindingError::Empty),
                _ => {
                    // Explain unknown letters precisely before the generic 1.0 message.
                    Self::parse_lenient(b)?;
                    Err(BindingError::NotA10Mode { input: b.into() })
                }
            };
        }
        if b.contains('Q') {
            return Err(BindingError::QueueInBinding { input: b.into(), version });
        }
        let mode = Self::parse_lenient(b)?;
        if let Some(t) = mode.transports().find(|t| t.since() > version) {
            return Err(BindingError::NotInVersion { input: b.into(), letter: t.letter(), version });
        }
        Ok(mode.with_queue(q))
    }

    /// Parses either form: transport letters in any order, with an optional `Q` meaning
    /// queue mode (`UQ`, `UQS`, `UT`, `U`...). Repeated or unknown letters are refused.
    pub fn parse_lenient(b: &str) -> Result<Self, BindingError> {
        if b.is_empty() {
            return Err(BindingError::Empty);
        }
        let mut mode = BindingMode::empty();
        for c in b.chars() {
            if c == 'Q' {
                if mode.queue {
                    return Err(BindingError::Repeated { input: b.into(), letter: c });
                }
                mode.queue = true;
                continue;
            }
            let t =
                Transport::from_letter(c).ok_or_else(|| BindingError::UnknownLetter { input: b.into(), letter: c })?;
            if mode.contains(t) {
                return Err(BindingError::Repeated { input: b.into(), letter: c });
            }
            mode = mode.with(t);
        }
        if mode.transports == 0 {
            return Err(BindingError::Empty);
        }
        Ok(mode)
    }

    /// The `b` parameter for a peer of `version`: 1.0 puts `Q` after `U` (`UQ`, `UQS`);
    /// 1.1+ gives transport letters only (send queue mode as the `Q` parameter).
    pub fn to_b_param(&self, version: LwM2mVersion) -> String {
        let mut s = String::new();
        for t in self.transports() {
            s.push(t.letter());
            if version == LwM2mVersion::V1_0 && self.queue && t == Transport::Udp {
                s.push('Q');
            }
        }
        if version == LwM2mVersion::V1_0 && self.queue && !self.contains(Transport::Udp) {
            s.push('Q');
        }
        s
    }
}

impl fmt::Display for BindingMode {
    /// Transport letters, then `Q` when queue mode is on (`UT`, `UQ`...).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in self.transports() {
            write!(f, "{}", t.letter())?;
        }
        if self.queue {
            f.write_str("Q")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BindingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BindingMode({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn one_dot_zero_modes() {
        let v = LwM2mVersion::V1_0;
        for b in ["U", "UQ", "S", "SQ", "US", "UQS"] {
            let mode = BindingMode::parse(b, false, v).unwrap();
            assert_eq!(mode.to_b_param(v), b, "{b}");
        }
        assert!(BindingMode::parse("UQ", false, v).unwrap().queue);
        assert_eq!(BindingMode::parse("UT", false, v), Err(BindingError::NotA10Mode { input: "UT".into() }));
        assert!(matches!(BindingMode::parse("X", false, v), Err(BindingError::UnknownLetter { letter: 'X', .. })));
    }

    #[test]
    fn one_dot_one_modes() {
        let v = LwM2mVersion::V1_1;
        let mode = BindingMode::parse("UT", true, v).unwrap();
        assert!(mode.contains(Transport::Udp) && mode.contains(Transport::Tcp) && mode.queue);
        assert_eq!(mode.to_b_param(v), "UT");
        assert_eq!(mode.to_b_param(LwM2mVersion::V1_0), "UQT");
        assert!(matches!(BindingMode::parse("UQ", false, v), Err(BindingError::QueueInBinding { .. })));
        assert!(matches!(BindingMode::parse("UM", false, v), Err(BindingError::NotInVersion { letter: 'M', .. })));
        assert!(BindingMode::parse("UM", false, LwM2mVersion::V1_2).is_ok());
        assert!(matches!(BindingMode::parse("UU", false, v), Err(BindingError::Repeated { .. })));
        assert_eq!(BindingMode::parse("", false, v), Err(BindingError::Empty));
    }

    #[test]
    fn lenient_accepts_both_styles() {
        assert_eq!(BindingMode::parse_lenient("UQ").unwrap(), BindingMode::UDP.with_queue(true));
        assert_eq!(BindingMode::parse_lenient("TU").unwrap().to_string(), "UT");
        assert_eq!(BindingMode::parse_lenient("SQ").unwrap().to_b_param(LwM2mVersion::V1_0), "SQ");
        assert!(BindingMode::parse_lenient("Q").is_err());
        assert!(BindingMode::parse_lenient("QQU").is_err());
    }
}
