//! The firmware's mDNS responder (app-core's `mdns::run`) on an embassy-net
//! stack over the in-memory cable: a DNS-SD query for `_piconet._tcp.local`
//! PTR sent to 224.0.0.251:5353 gets the PTR, SRV, TXT and A records with
//! the board's name, port and TXT values (PROTOCOL-NEXT.md, "Discovery").

use std::net::Ipv4Addr;

use edge_mdns::domain::base::iana::Rtype;
use embassy_futures::join::join;
use embassy_futures::select::{select, Either};
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Ipv4Cidr, Stack, StackResources, StaticConfigV4};
use embassy_time::{with_timeout, Duration};
use piconet_app_core::mdns::{self, Announcement, Buffers, MDNS_GROUP, MDNS_PORT};
use piconet_host_test::link;
use piconet_host_test::mdns::{parse, query, Answer, Rr};
use piconet_host_test::{BOARD_IP, CLIENT_IP};

const NAME: &str = "garden-7";
const PORT: u16 = 4242;
const TLS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SERVICE: [&str; 3] = ["_piconet", "_tcp", "local"];

const ANN: Announcement<'static> = Announcement {
    name: NAME,
    port: PORT,
    fw: "0.1.0",
    id: "e6614c311b7a8c2d",
    tls: TLS,
    auth: "mtls",
};

fn instance() -> String {
    format!("{NAME}._piconet._tcp.local")
}

/// The records every answer to the PTR question carries.
fn check_service_answer(a: &Answer, board_ip: Ipv4Addr) {
    assert!(a.response, "{a:?}");
    assert_eq!(
        a.answers,
        vec![Rr::Ptr("_piconet._tcp.local".into(), instance())],
        "{a:?}"
    );
    let srv = Rr::Srv(instance(), PORT, format!("{NAME}.local"));
    let txt = Rr::Txt(
        instance(),
        vec![
            "api=1".into(),
            "fw=0.1.0".into(),
            "id=e6614c311b7a8c2d".into(),
            format!("tls={TLS}"),
            "auth=mtls".into(),
        ],
    );
    let a_rec = Rr::A(format!("{NAME}.local"), board_ip);
    for want in [&srv, &txt, &a_rec] {
        assert!(a.additional.contains(want), "{want:?} missing: {a:?}");
    }
}

#[test]
fn ptr_query_answers_srv_txt_and_a() {
    let ip = Ipv4Addr::new(192, 168, 1, 40);
    let mut out = [0u8; mdns::ANSWER_BUF];
    let q = query(&SERVICE, Rtype::PTR, 0);
    let len = ANN.answer(ip, Some(&q), false, &mut out).unwrap().unwrap();
    let a = parse(&out[..len]);
    assert_eq!(
        (a.id, a.questions),
        (0, 0),
        "multicast answers carry no id or question"
    );
    check_service_answer(&a, ip);
}

#[test]
fn host_name_query_answers_a() {
    let ip = Ipv4Addr::new(192, 168, 1, 40);
    let mut out = [0u8; mdns::ANSWER_BUF];
    let q = query(&[NAME, "local"], Rtype::A, 0);
    let len = ANN.answer(ip, Some(&q), false, &mut out).unwrap().unwrap();
    let a = parse(&out[..len]);
    assert_eq!(a.answers, vec![Rr::A(format!("{NAME}.local"), ip)]);
}

#[test]
fn empty_tls_is_announced_as_empty() {
    let ann = Announcement {
        tls: "",
        auth: "none",
        ..ANN
    };
    let mut out = [0u8; mdns::ANSWER_BUF];
    let q = query(&SERVICE, Rtype::PTR, 0);
    let len = ann
        .answer(Ipv4Addr::new(10, 0, 0, 9), Some(&q), false, &mut out)
        .unwrap()
        .unwrap();
    let txt = parse(&out[..len])
        .additional
        .into_iter()
        .find_map(|r| match r {
            Rr::Txt(_, t) => Some(t),
            _ => None,
        })
        .expect("a TXT record");
    assert_eq!(txt[3], "tls=");
    assert_eq!(txt[4], "auth=none");
}

#[test]
fn other_names_and_responses_get_no_answer() {
    let mut out = [0u8; mdns::ANSWER_BUF];
    let ip = Ipv4Addr::new(10, 0, 0, 9);
    let q = query(&["_http", "_tcp", "local"], Rtype::PTR, 0);
    assert_eq!(ANN.answer(ip, Some(&q), false, &mut out).unwrap(), None);
    let q = query(&["other-board", "local"], Rtype::A, 0);
    assert_eq!(ANN.answer(ip, Some(&q), false, &mut out).unwrap(), None);
    // Another responder's answer is not a question.
    let q = query(&SERVICE, Rtype::PTR, 0);
    let len = ANN.answer(ip, Some(&q), false, &mut out).unwrap().unwrap();
    let theirs = out[..len].to_vec();
    assert_eq!(
        ANN.answer(ip, Some(&theirs), false, &mut out).unwrap(),
        None
    );
}

#[test]
fn id_and_fingerprint_are_lowercase_hex() {
    let id: heapless::String<16> = mdns::hex(&[0xe6, 0x61, 0x4c, 0x31, 0x1b, 0x7a, 0x8c, 0x2d]);
    assert_eq!(id, "e6614c311b7a8c2d");
    // SHA-256("abc"), FIPS 180-2's example.
    assert_eq!(
        mdns::tls_fingerprint(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

fn leak<T>(v: T) -> &'static mut T {
    Box::leak(Box::new(v))
}

fn config(ip: embassy_net::Ipv4Address) -> embassy_net::Config {
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, 24),
        gateway: None,
        dns_servers: Default::default(),
    })
}

/// The board's stack runs the responder; `body` gets the client's stack.
fn over_the_cable<F: std::future::Future<Output = ()>>(body: impl FnOnce(Stack<'static>) -> F) {
    let (board_end, client_end) = link::cable();
    let (board, mut board_runner) = embassy_net::new(
        board_end,
        config(BOARD_IP),
        leak(StackResources::<2>::new()),
        1,
    );
    let (client, mut client_runner) = embassy_net::new(
        client_end,
        config(CLIENT_IP),
        leak(StackResources::<2>::new()),
        2,
    );
    let bufs = leak(Buffers::new());
    futures_executor::block_on(async {
        let responder = mdns::run(board, &ANN, bufs);
        let nets = join(board_runner.run(), client_runner.run());
        let test = with_timeout(Duration::from_secs(10), body(client));
        match select(join(responder, nets), test).await {
            Either::First((r, _)) => panic!("responder stopped: {r:?}"),
            Either::Second(r) => r.expect("no answer within 10 s"),
        }
    });
}

#[test]
fn legacy_query_over_the_network_is_answered_to_the_sender() {
    over_the_cable(|client| async move {
        let (mut rm, mut rb, mut tm, mut tb) = (
            [PacketMetadata::EMPTY; 4],
            [0u8; 2048],
            [PacketMetadata::EMPTY; 4],
            [0u8; 2048],
        );
        let mut s = UdpSocket::new(client, &mut rm, &mut rb, &mut tm, &mut tb);
        s.bind(40000).unwrap();
        let group = IpEndpoint::new(IpAddress::Ipv4(MDNS_GROUP), MDNS_PORT);
        s.send_to(&query(&SERVICE, Rtype::PTR, 0x5a17), group)
            .await
            .unwrap();
        let mut buf = [0u8; 1500];
        let (n, from) = s.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            from.endpoint,
            IpEndpoint::new(IpAddress::Ipv4(BOARD_IP), MDNS_PORT)
        );
        let a = parse(&buf[..n]);
        assert_eq!(
            (a.id, a.questions),
            (0x5a17, 1),
            "a legacy answer echoes id and question"
        );
        check_service_answer(&a, BOARD_IP);
    });
}

#[test]
fn multicast_query_is_answered_to_the_group() {
    over_the_cable(|client| async move {
        client
            .join_multicast_group(IpAddress::Ipv4(MDNS_GROUP))
            .unwrap();
        let (mut rm, mut rb, mut tm, mut tb) = (
            [PacketMetadata::EMPTY; 4],
            [0u8; 2048],
            [PacketMetadata::EMPTY; 4],
            [0u8; 2048],
        );
        let mut s = UdpSocket::new(client, &mut rm, &mut rb, &mut tm, &mut tb);
        s.bind(MDNS_PORT).unwrap();
        let group = IpEndpoint::new(IpAddress::Ipv4(MDNS_GROUP), MDNS_PORT);
        s.send_to(&query(&SERVICE, Rtype::PTR, 0), group)
            .await
            .unwrap();
        let mut buf = [0u8; 1500];
        // The board's start-up announcement (every record, DNS-SD's
        // service list too) may come first; the answer to our question
        // carries just its PTR.
        loop {
            let (n, from) = s.recv_from(&mut buf).await.unwrap();
            assert_eq!(from.endpoint.addr, IpAddress::Ipv4(BOARD_IP));
            let a = parse(&buf[..n]);
            if a.answers.len() == 1 {
                check_service_answer(&a, BOARD_IP);
                break;
            }
            assert!(a
                .answers
                .contains(&Rr::Ptr("_piconet._tcp.local".into(), instance())));
        }
    });
}
