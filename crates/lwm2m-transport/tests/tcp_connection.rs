//! State-machine tests of the sans-IO CoAP-over-TCP connection, on an in-memory pair.
#![cfg(feature = "tcp")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use lwm2m_transport::tcp::connection::{ABORT, CSM, OPT_MAX_MESSAGE_SIZE, PING, PONG, RELEASE};
use lwm2m_transport::tcp::{
    CloseReason, Connection, ConnectionConfig, ConnectionEvent, ExchangeError, Frame, FrameDecoder, Role,
};
use lwm2m_transport::wire::{BlockOption, OptionNumber};
use lwm2m_transport::{Code, ObserveRequest, Request, Response, Token};

/// Moves every queued frame from `a` to `b` (in one read, to exercise several frames per read).
fn pump(now: Instant, a: &mut Connection, b: &mut Connection) -> usize {
    let mut bytes = Vec::new();
    while let Some(t) = a.poll_transmit() {
        bytes.extend_from_slice(&t);
    }
    if !bytes.is_empty() {
        b.handle_bytes(now, &bytes);
    }
    bytes.len()
}

fn settle(now: Instant, c: &mut Connection, s: &mut Connection) {
    while pump(now, c, s) + pump(now, s, c) > 0 {}
}

fn events(c: &mut Connection) -> Vec<ConnectionEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn frames(c: &mut Connection) -> Vec<Frame> {
    let mut d = FrameDecoder::new(usize::MAX);
    while let Some(t) = c.poll_transmit() {
        d.push(&t);
    }
    std::iter::from_fn(|| d.next_frame().unwrap()).collect()
}

fn pair(now: Instant, mut client: ConnectionConfig, mut server: ConnectionConfig) -> (Connection, Connection) {
    client.seed = 1;
    server.seed = 2;
    let mut c = Connection::new(Role::Initiator, client, now);
    let mut s = Connection::new(Role::Acceptor, server, now);
    settle(now, &mut c, &mut s);
    assert!(matches!(events(&mut c)[..], [ConnectionEvent::Established(_)]));
    assert!(matches!(events(&mut s)[..], [ConnectionEvent::Established(_)]));
    (c, s)
}

#[test]
fn csm_is_exchanged_first_and_announces_limits() {
    let now = Instant::now();
    let mut c =
        Connection::new(Role::Initiator, ConnectionConfig { max_message_size: 4000, ..Default::default() }, now);
    let f = frames(&mut c);
    assert_eq!(f[0].code, CSM);
    assert_eq!(f[0].options.get_uint(OPT_MAX_MESSAGE_SIZE), Some(4000));
    assert!(f[0].options.contains(OptionNumber(4)), "Block-Wise-Transfer announced");
    let (c, s) =
        pair(now, ConnectionConfig { max_message_size: 5000, ..Default::default() }, ConnectionConfig::default());
    assert_eq!(s.peer_capabilities().max_message_size, 5000);
    assert_eq!(c.peer_capabilities().max_message_size, 1 << 20);
    assert!(c.peer_capabilities().block_wise);
}

#[test]
fn a_first_frame_other_than_csm_aborts() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Acceptor, ConnectionConfig::default(), now);
    let _ = frames(&mut s);
    let get = Frame::new(Code::GET, Token::new(&[1]).unwrap()).to_bytes().unwrap();
    s.handle_bytes(now, &get);
    let out = frames(&mut s);
    assert_eq!(out[0].code, ABORT);
    assert!(String::from_utf8_lossy(&out[0].payload).contains("CSM"));
    assert!(s.is_closed());
    assert!(matches!(events(&mut s).last(), Some(ConnectionEvent::Closed(CloseReason::ProtocolError(_)))));
}

#[test]
fn missing_csm_times_out() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Acceptor, ConnectionConfig::default(), now);
    let _ = frames(&mut s);
    let t = s.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(10));
    s.handle_timeout(t);
    assert_eq!(frames(&mut s)[0].code, ABORT);
    assert!(s.is_closed());
}

#[test]
fn request_response_by_token_with_fragmented_bytes() {
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let a = c.start_request(now, Request::with_path(Code::GET, "/a")).unwrap();
    let b = c.start_request(now, Request::with_path(Code::GET, "/b")).unwrap();
    // One byte at a time.
    let mut bytes = Vec::new();
    while let Some(t) = c.poll_transmit() {
        bytes.extend_from_slice(&t);
    }
    for byte in bytes {
        s.handle_bytes(now, &[byte]);
    }
    let reqs: Vec<_> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            ConnectionEvent::Request(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(reqs.len(), 2);
    // Answer in reverse order.
    for r in reqs.iter().rev() {
        let body = r.request.options.uri_path();
        s.respond(r.id, Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::TEXT, body)).unwrap();
    }
    settle(now, &mut c, &mut s);
    let got: Vec<_> = events(&mut c)
        .into_iter()
        .filter_map(|e| match e {
            ConnectionEvent::Response { id, response } => Some((id, response.payload)),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![(b, Bytes::from("/b")), (a, Bytes::from("/a"))]);
}

#[test]
fn ping_pong_and_custody_waits_for_answers() {
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let p = c.ping(now, false).unwrap();
    settle(now, &mut c, &mut s);
    assert!(matches!(events(&mut c)[..], [ConnectionEvent::Pong { id }] if id == p));

    c.start_request(now, Request::with_path(Code::GET, "/slow")).unwrap();
    let p2 = c.ping(now, true).unwrap();
    pump(now, &mut c, &mut s);
    let req = match events(&mut s).pop() {
        Some(ConnectionEvent::Request(r)) => r,
        other => panic!("{other:?}"),
    };
    assert!(frames(&mut s).iter().all(|f| f.code != PONG), "custody: no Pong before the answer");
    s.respond(req.id, Response::new(Code::CONTENT)).unwrap();
    let out = frames(&mut s);
    assert_eq!(out.iter().map(|f| f.code).collect::<Vec<_>>(), vec![Code::CONTENT, PONG]);
    assert!(out[1].options.contains(OptionNumber(2)), "Pong carries Custody");
    for f in out {
        c.handle_bytes(now, &f.to_bytes().unwrap());
    }
    assert!(events(&mut c).iter().any(|e| matches!(e, ConnectionEvent::Pong { id } if *id == p2)));
}

#[test]
fn release_stops_new_requests_and_closes_when_idle() {
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let id = c.start_request(now, Request::with_path(Code::GET, "/x")).unwrap();
    pump(now, &mut c, &mut s);
    s.release(Some("coap+tcp://[::1]:5700"), Some(30));
    let out = frames(&mut s);
    let rel = out.last().unwrap();
    assert_eq!(rel.code, RELEASE);
    assert_eq!(rel.options.get(OptionNumber(2)), Some(&b"coap+tcp://[::1]:5700"[..]));
    assert_eq!(rel.options.get_uint(OptionNumber(4)), Some(30));
    c.handle_bytes(now, &rel.to_bytes().unwrap());
    let ev = events(&mut c);
    assert!(ev.iter().any(|e| matches!(e, ConnectionEvent::ReleaseReceived { alternative_address: Some(a), hold_off: Some(30) } if a == "coap+tcp://[::1]:5700")));
    assert!(matches!(c.start_request(now, Request::new(Code::GET)), Err(ExchangeError::Releasing)));
    assert!(!c.is_closed(), "still waiting for /x");
    let req = events(&mut s).into_iter().find_map(|e| match e {
        ConnectionEvent::Request(r) => Some(r),
        _ => None,
    });
    s.respond(req.unwrap().id, Response::new(Code::CONTENT)).unwrap();
    assert!(s.is_closed(), "server released and owes nothing");
    pump(now, &mut s, &mut c);
    let ev = events(&mut c);
    assert!(ev.iter().any(|e| matches!(e, ConnectionEvent::Response { id: got, .. } if *got == id)));
    assert!(matches!(ev.last(), Some(ConnectionEvent::Closed(CloseReason::Released))));
}

#[test]
fn abort_fails_outstanding_requests() {
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let id = c.start_request(now, Request::with_path(Code::GET, "/x")).unwrap();
    s.abort("going away");
    assert_eq!(frames(&mut s)[0].code, ABORT);
    let mut abort = Frame::new(ABORT, Token::EMPTY);
    abort.payload = Bytes::from_static(b"going away");
    c.handle_bytes(now, &abort.to_bytes().unwrap());
    let ev = events(&mut c);
    assert!(ev.iter().any(|e| matches!(e, ConnectionEvent::RequestFailed { id: got, error: ExchangeError::Closed(CloseReason::PeerAborted { .. }) } if *got == id)));
    assert!(c.is_closed());
}

#[test]
fn oversize_frame_is_rejected_with_abort() {
    let now = Instant::now();
    let (_c, mut s) =
        pair(now, ConnectionConfig::default(), ConnectionConfig { max_message_size: 2000, ..Default::default() });
    let mut big = Frame::new(Code::PUT, Token::new(&[9]).unwrap());
    big.payload = Bytes::from(vec![0u8; 5000]);
    let bytes = big.to_bytes().unwrap();
    // Only the header is needed to refuse it.
    s.handle_bytes(now, &bytes[..4]);
    let out = frames(&mut s);
    assert_eq!(out[0].code, ABORT);
    assert!(String::from_utf8_lossy(&out[0].payload).contains("Max-Message-Size 2000"));
    assert!(s.is_closed());
}

#[test]
fn sender_respects_the_peer_max_message_size() {
    let now = Instant::now();
    let (mut c, _s) = pair(
        now,
        ConnectionConfig::default(),
        ConnectionConfig { max_message_size: 1152, block_wise: false, ..Default::default() },
    );
    let mut r = Request::with_path(Code::PUT, "/big");
    r.payload = Bytes::from(vec![1u8; 3000]);
    assert!(matches!(c.start_request(now, r), Err(ExchangeError::TooLarge { max: 1152, .. })));
}

#[test]
fn block_wise_both_ways_when_the_peer_is_small() {
    let now = Instant::now();
    let small = ConnectionConfig { max_message_size: 1152, ..Default::default() };
    let (mut c, mut s) = pair(now, small.clone(), small);
    let body: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let mut put = Request::with_path(Code::PUT, "/f");
    put.payload = Bytes::from(body.clone());
    let put_id = c.start_request(now, put).unwrap();
    let mut got_request = None;
    for _ in 0..20 {
        settle(now, &mut c, &mut s);
        for e in events(&mut s) {
            if let ConnectionEvent::Request(r) = e {
                got_request = Some(r);
            }
        }
        if got_request.is_some() {
            break;
        }
    }
    let req = got_request.expect("reassembled request");
    assert_eq!(req.request.payload, Bytes::from(body.clone()));
    assert!(!req.request.options.contains(OptionNumber::BLOCK1));
    s.respond(req.id, Response::new(Code::CHANGED)).unwrap();
    settle(now, &mut c, &mut s);
    assert!(events(&mut c).iter().any(
        |e| matches!(e, ConnectionEvent::Response { id, response } if *id == put_id && response.code == Code::CHANGED)
    ));

    // GET of the same body comes back in Block2 pieces, reassembled by the client; the server
    // application sees each block request and answers with the whole body (stateless slicing).
    let get_id = c.start_request(now, Request::with_path(Code::GET, "/f")).unwrap();
    let mut response = None;
    for _ in 0..20 {
        settle(now, &mut c, &mut s);
        for e in events(&mut s) {
            if let ConnectionEvent::Request(r) = e {
                s.respond(r.id, Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::OPAQUE, body.clone()))
                    .unwrap();
            }
        }
        settle(now, &mut c, &mut s);
        for e in events(&mut c) {
            if let ConnectionEvent::Response { id, response: r } = e {
                assert_eq!(id, get_id);
                response = Some(r);
            }
        }
        if response.is_some() {
            break;
        }
    }
    let response = response.expect("reassembled response");
    assert_eq!(response.payload, Bytes::from(body));
    assert!(response.options.block2().is_none());
}

#[test]
fn block2_request_gets_the_slice_it_asked_for() {
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let mut r = Request::with_path(Code::GET, "/f");
    r.options.set_uint(OptionNumber::BLOCK2, BlockOption::new(1, false, 2).unwrap().encode());
    c.start_request(now, r).unwrap();
    // Intercept the server's reply before the client follows it.
    pump(now, &mut c, &mut s);
    let req = events(&mut s).into_iter().find_map(|e| match e {
        ConnectionEvent::Request(r) => Some(r),
        _ => None,
    });
    s.respond(req.unwrap().id, Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::TEXT, vec![b'x'; 200]))
        .unwrap();
    let out = frames(&mut s);
    let b2 = out[0].options.block2().unwrap();
    assert_eq!((b2.num, b2.more, b2.size()), (1, true, 64));
    assert_eq!(out[0].payload.len(), 64);
}

#[test]
fn observe_over_tcp_delivers_every_notification_in_order() {
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let id = c.observe(now, Request::with_path(Code::GET, "/obs")).unwrap();
    pump(now, &mut c, &mut s);
    let req = match events(&mut s).pop() {
        Some(ConnectionEvent::Request(r)) => r,
        other => panic!("{other:?}"),
    };
    let ObserveRequest::Register(obs) = req.observe else { panic!("not a registration") };
    s.respond(req.id, Response::new(Code::CONTENT)).unwrap();
    for i in 0..3u8 {
        s.notify(obs, Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::TEXT, vec![b'0' + i])).unwrap();
    }
    pump(now, &mut s, &mut c);
    let ev = events(&mut c);
    assert!(
        matches!(&ev[0], ConnectionEvent::Response { id: got, response } if *got == id && response.options.observe() == Some(0))
    );
    let payloads: Vec<_> = ev[1..]
        .iter()
        .map(|e| match e {
            ConnectionEvent::Notification { id: got, response } if *got == id => response.payload.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(payloads, vec![Bytes::from("0"), Bytes::from("1"), Bytes::from("2")]);
    // Active cancel: GET with Observe 1 on the same token removes the observer.
    c.cancel(id, true);
    pump(now, &mut c, &mut s);
    let ev = events(&mut s);
    assert!(ev.iter().any(|e| matches!(e, ConnectionEvent::ObserverRemoved { observation } if *observation == obs)));
    assert!(ev.iter().any(|e| matches!(e, ConnectionEvent::Request(r) if r.observe == ObserveRequest::Deregister)));
}

#[test]
fn request_timeout_and_unknown_critical_option() {
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let mut r = Request::with_path(Code::GET, "/x");
    r.options.push(OptionNumber(2049), b"?");
    let id = c.start_request(now, r).unwrap();
    settle(now, &mut c, &mut s);
    assert!(events(&mut c).iter().any(|e| matches!(e, ConnectionEvent::Response { id: got, response } if *got == id && response.code == Code::BAD_OPTION)));
    let id = c.start_request(now, Request::with_path(Code::GET, "/y")).unwrap();
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    assert!(events(&mut c).iter().any(
        |e| matches!(e, ConnectionEvent::RequestFailed { id: got, error: ExchangeError::Timeout(_) } if *got == id)
    ));
}

#[test]
fn csm_with_unknown_critical_option_is_aborted_with_bad_csm_option() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Acceptor, ConnectionConfig::default(), now);
    let _ = frames(&mut s);
    let mut csm = Frame::new(CSM, Token::EMPTY);
    csm.options.push(OptionNumber(9), b"");
    s.handle_bytes(now, &csm.to_bytes().unwrap());
    let out = frames(&mut s);
    assert_eq!(out[0].code, ABORT);
    assert_eq!(out[0].options.get_uint(OptionNumber(2)), Some(9));
    let _ = PING;
}

#[test]
fn block_wise_observe_registration_and_notifications_are_reassembled() {
    let now = Instant::now();
    let small = ConnectionConfig { max_message_size: 1152, ..Default::default() };
    let (mut c, mut s) = pair(now, small.clone(), small);
    let body = |tag: u8| Bytes::from(vec![tag; 3000]);
    let id = c.observe(now, Request::with_path(Code::GET, "/big")).unwrap();
    let mut obs = None;
    let mut seen = Vec::new();
    // The resource's state: the server application answers every (block) request with it.
    let mut current = b'a';
    for round in 0..30 {
        settle(now, &mut c, &mut s);
        for e in events(&mut s) {
            if let ConnectionEvent::Request(r) = e {
                if let ObserveRequest::Register(o) = r.observe {
                    obs = Some(o);
                }
                let content = Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::OPAQUE, body(current));
                s.respond(r.id, content).unwrap();
            }
        }
        if round == 10 {
            current = b'b';
            let n = Response::with_payload(Code::CONTENT, lwm2m_core::ContentFormat::OPAQUE, body(b'b'));
            s.notify(obs.expect("registered"), n).unwrap();
        }
        settle(now, &mut c, &mut s);
        for e in events(&mut c) {
            match e {
                ConnectionEvent::Response { id: got, response }
                | ConnectionEvent::Notification { id: got, response } => {
                    assert_eq!(got, id);
                    seen.push((response.options.observe(), response.payload));
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(seen.len(), 2, "registration response and one notification");
    assert_eq!(seen[0], (Some(0), body(b'a')));
    assert_eq!(seen[1].1, body(b'b'));
    assert!(seen[1].0.is_some());
}

#[test]
fn custody_pings_cost_constant_memory_and_are_capped() {
    // Review finding: each custody Ping copied the ids of every waiting request into an
    // unbounded queue. Now a waiting Pong is a token and a mark, and at most max_incoming wait.
    let now = Instant::now();
    let config = ConnectionConfig { max_incoming: 4, ..ConnectionConfig::default() };
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), config);
    c.start_request(now, Request::with_path(Code::GET, "/a")).unwrap();
    c.start_request(now, Request::with_path(Code::GET, "/b")).unwrap();
    pump(now, &mut c, &mut s);
    let ids: Vec<_> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            ConnectionEvent::Request(r) => Some(r.id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    c.ping(now, true).unwrap();
    pump(now, &mut c, &mut s);
    // A request after the Ping is not owed to it.
    c.start_request(now, Request::with_path(Code::GET, "/c")).unwrap();
    pump(now, &mut c, &mut s);
    assert!(events(&mut s).iter().any(|e| matches!(e, ConnectionEvent::Request(_))));
    // Answering the requests before the Ping, in reverse order, releases the Pong; the later
    // request is still waiting.
    s.respond(ids[1], Response::new(Code::CONTENT)).unwrap();
    assert!(frames(&mut s).iter().all(|f| f.code != PONG));
    s.respond(ids[0], Response::new(Code::CONTENT)).unwrap();
    assert!(frames(&mut s).iter().any(|f| f.code == PONG));

    // More custody Pings waiting than max_incoming: the peer is refused with Abort.
    for _ in 0..5 {
        c.ping(now, true).unwrap();
    }
    pump(now, &mut c, &mut s);
    assert!(frames(&mut s).iter().any(|f| f.code == ABORT), "too many custody Pings");
}

#[test]
fn block1_blocks_before_the_last_must_have_their_size() {
    // Review finding: a 'more' block larger than its size was stored whole.
    let now = Instant::now();
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), ConnectionConfig::default());
    let mut request = Request::with_path(Code::PUT, "/big");
    request.options.set_uint(OptionNumber::BLOCK1, BlockOption::new(0, true, 0).unwrap().encode());
    request.payload = Bytes::from(vec![7u8; 4096]);
    c.start_request(now, request).unwrap();
    settle(now, &mut c, &mut s);
    assert!(events(&mut s).iter().all(|e| !matches!(e, ConnectionEvent::Request(_))));
    assert!(events(&mut c).iter().any(
        |e| matches!(e, ConnectionEvent::Response { response, .. } if response.code == Code::REQUEST_ENTITY_INCOMPLETE)
    ));
}

#[test]
fn observe_reregistration_replaces_and_observations_are_capped() {
    // Review finding: a registration with the token of an active one added a second observer,
    // and nothing limited them.
    let now = Instant::now();
    let config = ConnectionConfig { max_observations: 2, ..ConnectionConfig::default() };
    let (_c, mut s) = pair(now, ConnectionConfig::default(), config);
    let register = |s: &mut Connection, token: u8| {
        let mut options = lwm2m_transport::Options::new();
        options.set_uint(OptionNumber::OBSERVE, 0);
        options.push(OptionNumber::URI_PATH, b"obs");
        let frame = Frame { code: Code::GET, token: Token::new(&[token]).unwrap(), options, payload: Bytes::new() };
        s.handle_bytes(now, &frame.to_bytes().unwrap());
        let req = events(s)
            .into_iter()
            .find_map(|e| match e {
                ConnectionEvent::Request(r) => Some(r),
                _ => None,
            })
            .unwrap();
        s.respond(req.id, Response::new(Code::CONTENT)).unwrap();
        let observed = frames(s).iter().any(|f| f.options.observe() == Some(0));
        (observed, events(s))
    };
    let (observed, _) = register(&mut s, 1);
    assert!(observed);
    // The same token again: the old observation is removed, the new one takes its place.
    let (observed, ev) = register(&mut s, 1);
    assert!(observed);
    assert!(ev.iter().any(|e| matches!(e, ConnectionEvent::ObserverRemoved { .. })), "{ev:?}");
    let (observed, _) = register(&mut s, 2);
    assert!(observed, "two observations fit");
    let (observed, _) = register(&mut s, 3);
    assert!(!observed, "a third is answered without Observe");
}

#[test]
fn block1_reassembly_expires_when_the_next_block_does_not_come() {
    // Review finding: a started Block1 transfer stayed in memory until the connection closed.
    let now = Instant::now();
    let config = ConnectionConfig { block1_lifetime: Duration::from_secs(10), ..ConnectionConfig::default() };
    let (mut c, mut s) = pair(now, ConnectionConfig::default(), config);
    let block = |num: u32, more: bool| {
        let mut request = Request::with_path(Code::PUT, "/big");
        request.options.set_uint(OptionNumber::BLOCK1, BlockOption::new(num, more, 0).unwrap().encode());
        request.payload = Bytes::from(vec![7u8; 16]);
        request
    };
    c.start_request(now, block(0, true)).unwrap();
    settle(now, &mut c, &mut s);
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, ConnectionEvent::Response { response, .. } if response.code == Code::CONTINUE))
    );
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(10)), "the reassembly's expiry is a timer");
    let later = now + Duration::from_secs(11);
    s.handle_timeout(later);
    c.start_request(later, block(1, false)).unwrap();
    settle(later, &mut c, &mut s);
    assert!(events(&mut s).iter().all(|e| !matches!(e, ConnectionEvent::Request(_))), "no body assembled");
    assert!(events(&mut c).iter().any(
        |e| matches!(e, ConnectionEvent::Response { response, .. } if response.code == Code::REQUEST_ENTITY_INCOMPLETE)
    ));
}

#[test]
fn an_idle_connection_is_released_unless_something_is_under_way() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(30);
    let server = ConnectionConfig { idle_timeout: Some(idle), ..Default::default() };
    let (mut c, mut s) = pair(t0, ConnectionConfig::default(), server);
    assert_eq!(s.poll_timeout(), Some(t0 + idle));
    assert_eq!(c.poll_timeout(), None, "no idle timeout by default");

    // Any frame from the peer is traffic: a ping at +20 s moves the deadline to +50 s.
    let t1 = t0 + Duration::from_secs(20);
    c.ping(t1, false).unwrap();
    settle(t1, &mut c, &mut s);
    s.handle_timeout(t0 + idle);
    assert!(!s.is_closed());
    assert_eq!(s.poll_timeout(), Some(t1 + idle));

    // An observation the server serves keeps a silent connection open past the deadline.
    let id = c.observe(t1, Request::with_path(Code::GET, "/obs")).unwrap();
    pump(t1, &mut c, &mut s);
    let Some(ConnectionEvent::Request(req)) = events(&mut s).pop() else { panic!("a registration") };
    s.respond(req.id, Response::new(Code::CONTENT)).unwrap();
    settle(t1, &mut c, &mut s);
    let t2 = t1 + idle;
    s.handle_timeout(t2);
    assert!(!s.is_closed(), "an active observer is not idle");
    assert_eq!(s.poll_timeout(), Some(t2 + idle), "checked again one idle period later");

    // Cancelling the observation actively ends it; then the connection is idle.
    c.cancel(id, true);
    pump(t2, &mut c, &mut s);
    for event in events(&mut s) {
        if let ConnectionEvent::Request(r) = event {
            s.respond(r.id, Response::new(Code::CONTENT)).unwrap();
        }
    }
    settle(t2, &mut c, &mut s);
    let t3 = t2 + idle;
    s.handle_timeout(t3);
    assert!(s.is_closed());
    let out = frames(&mut s);
    assert_eq!(out.iter().map(|f| f.code).collect::<Vec<_>>(), vec![RELEASE]);
    assert!(matches!(events(&mut s).last(), Some(ConnectionEvent::Closed(CloseReason::IdleTimeout(d))) if *d == idle));
    assert_eq!(s.poll_timeout(), None);
}
