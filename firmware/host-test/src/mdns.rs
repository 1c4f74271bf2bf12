//! The test's side of mDNS: a DNS-SD query, and the answer read back into
//! plain values (edge-mdns's `domain` parses; nothing is decoded by hand).

use std::net::Ipv4Addr;

use edge_mdns::domain::base::iana::{Class, Rtype};
use edge_mdns::domain::base::{Message, MessageBuilder, ParsedName};
use edge_mdns::domain::rdata::AllRecordData;
use edge_mdns::{Buf, NameSlice};

/// A one-question query for `labels` (e.g. `["_piconet", "_tcp", "local"]`)
/// of type `rtype`, with query id `id`.
pub fn query(labels: &[&str], rtype: Rtype, id: u16) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut mb = MessageBuilder::from_target(Buf::new(&mut buf)).expect("query buffer");
    mb.header_mut().set_id(id);
    let mut qb = mb.question();
    qb.push((NameSlice::new(labels), rtype, Class::IN))
        .expect("question fits");
    let len = qb.finish().1;
    buf.truncate(len);
    buf
}

/// One record of an answer, owner names without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rr {
    /// PTR: owner, target.
    Ptr(String, String),
    /// SRV: owner, port, target.
    Srv(String, u16, String),
    /// TXT: owner, the `key=value` strings in order.
    Txt(String, Vec<String>),
    /// A: owner, address.
    A(String, Ipv4Addr),
}

/// An answer: its header's id and response bit, questions echoed, and the
/// records of the answer and additional sections.
#[derive(Debug)]
pub struct Answer {
    /// Query id (0 in a multicast answer, the query's in a legacy one).
    pub id: u16,
    /// QR: a response.
    pub response: bool,
    /// Questions repeated (legacy answers repeat them).
    pub questions: usize,
    /// Answer section.
    pub answers: Vec<Rr>,
    /// Additional section.
    pub additional: Vec<Rr>,
}

fn name(n: &impl std::fmt::Display) -> String {
    n.to_string().trim_end_matches('.').to_owned()
}

/// Parse `bytes` as a DNS message; panics on what a responder must not send.
pub fn parse(bytes: &[u8]) -> Answer {
    let msg = Message::from_octets(bytes).expect("a DNS message");
    let read = |section: edge_mdns::domain::base::RecordSection<'_, &[u8]>| -> Vec<Rr> {
        section
            .map(|rr| {
                let rr = rr.expect("record parses");
                let rr = rr
                    .into_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>()
                    .expect("record data parses")
                    .expect("a known record type");
                let owner = name(rr.owner());
                match rr.data() {
                    AllRecordData::Ptr(p) => Rr::Ptr(owner, name(p.ptrdname())),
                    AllRecordData::Srv(s) => Rr::Srv(owner, s.port(), name(s.target())),
                    AllRecordData::Txt(t) => Rr::Txt(
                        owner,
                        t.iter()
                            .map(|s| String::from_utf8(s.to_vec()).expect("TXT is UTF-8"))
                            .collect(),
                    ),
                    AllRecordData::A(a) => Rr::A(owner, Ipv4Addr::from(a.addr().octets())),
                    other => panic!("unexpected record {other:?}"),
                }
            })
            .collect()
    };
    let header = msg.header();
    Answer {
        id: header.id(),
        response: header.qr(),
        questions: msg.question().count(),
        answers: read(msg.answer().expect("answer section")),
        additional: read(msg.additional().expect("additional section")),
    }
}
