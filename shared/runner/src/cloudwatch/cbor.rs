//! The CBOR of Smithy RPC v2 as the AWS SDKs read and write it: answers are built as [`Cbor`]
//! values and written with definite lengths, doubles as 64-bit floats (the SDK reads a
//! `double` member only from a float) and timestamps as tag 1 over epoch seconds; inputs are
//! read member by member, definite or indefinite, a null member being an absent one.

use super::Refusal;
use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

/// What the answers are made of; encoded with definite lengths, doubles as 64-bit floats and
/// timestamps as tag 1 over epoch seconds, as the SDKs' decoders expect.
#[derive(Debug, Clone, PartialEq)]
pub enum Cbor {
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Timestamp(f64),
    List(Vec<Cbor>),
    Map(Vec<(&'static str, Cbor)>),
}

impl Cbor {
    pub fn text(text: impl Into<String>) -> Cbor {
        Cbor::Text(text.into())
    }

    pub fn encode(&self, e: &mut Encoder<Vec<u8>>) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Cbor::Text(text) => e.str(text).map(|_| ()),
            Cbor::Int(n) => e.i64(*n).map(|_| ()),
            Cbor::Double(x) => e.f64(*x).map(|_| ()),
            Cbor::Bool(b) => e.bool(*b).map(|_| ()),
            Cbor::Timestamp(seconds) => {
                e.tag(Tag::new(1)).and_then(|e| e.f64(*seconds)).map(|_| ())
            }
            Cbor::List(items) => {
                let _ = e.array(items.len() as u64);
                items.iter().for_each(|item| item.encode(e));
                Ok(())
            }
            Cbor::Map(members) => {
                let _ = e.map(members.len() as u64);
                for (key, value) in members {
                    let _ = e.str(key);
                    value.encode(e);
                }
                Ok(())
            }
        };
    }
}

pub fn malformed(e: minicbor::decode::Error) -> Refusal {
    Refusal::Serialization(format!(
        "The request body is not the operation's CBOR input: {e}"
    ))
}

/// A definite or indefinite container's length, and whether the next item is its end.
pub fn more(d: &mut Decoder<'_>, left: &mut Option<u64>) -> Result<bool, Refusal> {
    match left {
        Some(0) => Ok(false),
        Some(n) => {
            *n -= 1;
            Ok(true)
        }
        None if d.datatype().map_err(malformed)? == Type::Break => {
            d.skip().map_err(malformed)?;
            Ok(false)
        }
        None => Ok(true),
    }
}

pub fn text(d: &mut Decoder<'_>) -> Result<String, Refusal> {
    let mut out = String::new();
    for part in d.str_iter().map_err(malformed)? {
        out.push_str(part.map_err(malformed)?);
    }
    Ok(out)
}

pub fn texts(d: &mut Decoder<'_>) -> Result<Vec<String>, Refusal> {
    let mut left = d.array().map_err(malformed)?;
    let mut out = Vec::new();
    while more(d, &mut left)? {
        out.push(text(d)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_are_64_bit_floats_and_timestamps_tag_1() {
        let mut e = Encoder::new(Vec::new());
        Cbor::Map(vec![
            ("Threshold", Cbor::Double(5.0)),
            ("At", Cbor::Timestamp(1.5)),
        ])
        .encode(&mut e);
        let bytes = e.into_writer();
        let mut d = Decoder::new(&bytes);
        d.map().unwrap();
        d.str().unwrap();
        assert_eq!(
            d.datatype().unwrap(),
            Type::F64,
            "5.0 is not shortened to an integer"
        );
        d.f64().unwrap();
        d.str().unwrap();
        assert_eq!(d.tag().unwrap(), Tag::new(1));
        assert_eq!(d.f64().unwrap(), 1.5);
    }
}
