//! The operations of the LwM2M interfaces and the CoAP methods that carry them.

use core::fmt;
use core::str::FromStr;

use crate::error::CodeError;
use crate::path::PathLevel;

/// A CoAP request method used by LwM2M (RFC 7252, RFC 8132).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET (0.01)
    Get,
    /// POST (0.02)
    Post,
    /// PUT (0.03)
    Put,
    /// DELETE (0.04)
    Delete,
    /// FETCH (0.05)
    Fetch,
    /// PATCH (0.06)
    Patch,
    /// iPATCH (0.07)
    IPatch,
}

impl Method {
    /// The CoAP code byte (`0.0x`).
    pub const fn to_byte(self) -> u8 {
        match self {
            Method::Get => 1,
            Method::Post => 2,
            Method::Put => 3,
            Method::Delete => 4,
            Method::Fetch => 5,
            Method::Patch => 6,
            Method::IPatch => 7,
        }
    }
}

/// An operation of one of the LwM2M interfaces (bootstrap, registration, device
/// management, information reporting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Bootstrap-Request (client -> bootstrap server, POST /bs).
    BootstrapRequest,
    /// Bootstrap-Pack-Request (1.2, GET /bspack).
    BootstrapPackRequest,
    /// Bootstrap-Discover (GET, Accept 40).
    BootstrapDiscover,
    /// Bootstrap-Read (1.1, GET).
    BootstrapRead,
    /// Bootstrap-Write (PUT).
    BootstrapWrite,
    /// Bootstrap-Delete (DELETE).
    BootstrapDelete,
    /// Bootstrap-Finish (POST /bs).
    BootstrapFinish,
    /// Register (POST /rd).
    Register,
    /// Update (POST /rd/{id}).
    Update,
    /// De-register (DELETE /rd/{id}).
    Deregister,
    /// Read (GET).
    Read,
    /// Discover (GET, Accept 40).
    Discover,
    /// Write, replace (PUT).
    WriteReplace,
    /// Write, partial update (POST).
    WriteUpdate,
    /// Write-Attributes (PUT with query, no payload).
    WriteAttributes,
    /// Execute (POST).
    Execute,
    /// Create (POST on an object).
    Create,
    /// Delete (DELETE).
    Delete,
    /// Read-Composite (1.1, FETCH /).
    ReadComposite,
    /// Write-Composite (1.1, iPATCH /).
    WriteComposite,
    /// Observe (GET with Observe 0).
    Observe,
    /// Cancel Observation (GET with Observe 1, or RST).
    CancelObservation,
    /// Observe-Composite (1.1, FETCH / with Observe 0).
    ObserveComposite,
    /// Cancel Observe-Composite (FETCH / with Observe 1).
    CancelObserveComposite,
    /// Send (1.1, POST /dp).
    Send,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 25] = [
        Operation::BootstrapRequest,
        Operation::BootstrapPackRequest,
        Operation::BootstrapDiscover,
        Operation::BootstrapRead,
        Operation::BootstrapWrite,
        Operation::BootstrapDelete,
        Operation::BootstrapFinish,
        Operation::Register,
        Operation::Update,
        Operation::Deregister,
        Operation::Read,
        Operation::Discover,
        Operation::WriteReplace,
        Operation::WriteUpdate,
        Operation::WriteAttributes,
        Operation::Execute,
        Operation::Create,
        Operation::Delete,
        Operation::ReadComposite,
        Operation::WriteComposite,
        Operation::Observe,
        Operation::CancelObservation,
        Operation::ObserveComposite,
        Operation::CancelObserveComposite,
        Operation::Send,
    ];

    /// The CoAP method that carries the operation.
    pub const fn method(self) -> Method {
        use Operation::*;
        match self {
            BootstrapRequest | BootstrapFinish | Register | Update | WriteUpdate | Execute | Create | Send => {
                Method::Post
            }
            BootstrapPackRequest | BootstrapDiscover | BootstrapRead | Read | Discover | Observe
            | CancelObservation => Method::Get,
            BootstrapWrite | WriteReplace | WriteAttributes => Method::Put,
            BootstrapDelete | Deregister | Delete => Method::Delete,
            ReadComposite | ObserveComposite | CancelObserveComposite => Method::Fetch,
            WriteComposite => Method::IPatch,
        }
    }

    /// A kebab-case name (`"write-attributes"`).
    pub const fn name(self) -> &'static str {
        use Operation::*;
        match self {
            BootstrapRequest => "bootstrap-request",
            BootstrapPackRequest => "bootstrap-pack-request",
            BootstrapDiscover => "bootstrap-discover",
            BootstrapRead => "bootstrap-read",
            BootstrapWrite => "bootstrap-write",
            BootstrapDelete => "bootstrap-delete",
            BootstrapFinish => "bootstrap-finish",
            Register => "register",
            Update => "update",
            Deregister => "deregister",
            Read => "read",
            Discover => "discover",
            WriteReplace => "write-replace",
            WriteUpdate => "write-update",
            WriteAttributes => "write-attributes",
            Execute => "execute",
            Create => "create",
            Delete => "delete",
            ReadComposite => "read-composite",
            WriteComposite => "write-composite",
            Observe => "observe",
            CancelObservation => "cancel-observation",
            ObserveComposite => "observe-composite",
            CancelObserveComposite => "cancel-observe-composite",
            Send => "send",
        }
    }

    /// Whether a device-management operation may target a path at `level` (per the
    /// operation table of the transport specification). Operations without a data-model
    /// target (registration, Send, composites on `/`) answer for the root only.
    pub const fn allows_level(self, level: PathLevel) -> bool {
        use Operation::*;
        use PathLevel as L;
        match self {
            Read | Observe | CancelObservation | WriteAttributes => !matches!(level, L::Root),
            Discover => matches!(level, L::Object | L::Instance | L::Resource),
            WriteReplace => matches!(level, L::Instance | L::Resource | L::ResourceInstance),
            WriteUpdate => matches!(level, L::Instance | L::Resource),
            Execute => matches!(level, L::Resource),
            Create => matches!(level, L::Object),
            Delete => matches!(level, L::Instance | L::ResourceInstance),
            BootstrapWrite => matches!(level, L::Object | L::Instance | L::Resource),
            BootstrapDelete => matches!(level, L::Root | L::Object | L::Instance),
            BootstrapDiscover => matches!(level, L::Root | L::Object),
            BootstrapRead => matches!(level, L::Object | L::Instance),
            ReadComposite
            | WriteComposite
            | ObserveComposite
            | CancelObserveComposite
            | Send
            | BootstrapRequest
            | BootstrapPackRequest
            | BootstrapFinish
            | Register
            | Update
            | Deregister => {
                matches!(level, L::Root)
            }
        }
    }
}

impl FromStr for Operation {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Self, CodeError> {
        Operation::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or_else(|| CodeError::UnknownOperation { input: s.into() })
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_names() {
        assert_eq!(Operation::ReadComposite.method(), Method::Fetch);
        assert_eq!(Operation::WriteComposite.method(), Method::IPatch);
        assert_eq!(Operation::WriteAttributes.method(), Method::Put);
        assert_eq!(Operation::Create.method(), Method::Post);
        assert_eq!(Method::IPatch.to_byte(), 7);
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>().unwrap(), op);
        }
        assert!("frobnicate".parse::<Operation>().is_err());
    }

    #[test]
    fn levels() {
        assert!(Operation::Execute.allows_level(PathLevel::Resource));
        assert!(!Operation::Execute.allows_level(PathLevel::Instance));
        assert!(Operation::Create.allows_level(PathLevel::Object));
        assert!(!Operation::Delete.allows_level(PathLevel::Object));
        assert!(Operation::BootstrapDelete.allows_level(PathLevel::Root));
    }
}
