//! `key=value` words of `-c`, typed as run_client.py types them.

use serde_json::{Map, Number, Value};

/// One `key=value`: integers and finite floats become JSON numbers,
/// `true`/`false` booleans, anything else a string (`mode=output`, `pull=none`).
///
/// Forcing a string: `key=str:1234` sends `"1234"` (everything after
/// `str:`, as it is), and a value in double quotes is a JSON string
/// (`key='"007"'` in a shell sends `"007"`; JSON escapes work inside).
pub fn parse_field(word: &str) -> Result<(String, Value), String> {
    let (key, text) = word
        .split_once('=')
        .ok_or_else(|| format!("{word:?} is not KEY=VALUE (e.g. pin=2)"))?;
    if key.is_empty() {
        return Err(format!("{word:?} has an empty key"));
    }
    if let Some(forced) = text.strip_prefix(STRING_PREFIX) {
        return Ok((key.to_owned(), Value::String(forced.to_owned())));
    }
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        let string: String = serde_json::from_str(text)
            .map_err(|e| format!("{word:?}: the quoted value is not a JSON string: {e}"))?;
        return Ok((key.to_owned(), Value::String(string)));
    }
    Ok((key.to_owned(), typed(text)))
}

/// What makes the rest of a value a string, whatever it looks like.
pub const STRING_PREFIX: &str = "str:";

fn typed(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::from(u);
    }
    // Rust also reads "inf" and "NaN" as floats; JSON has no such numbers.
    if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        if text.bytes().any(|b| b.is_ascii_digit()) {
            return Value::Number(n);
        }
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_owned()),
    }
}

/// One command from its fields; a key given twice is a mistake worth saying.
pub fn command(fields: &[(String, Value)]) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for (key, value) in fields {
        if map.insert(key.clone(), value.clone()).is_some() {
            return Err(format!("{key} is given twice in one -c command"));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(word: &str) -> Value {
        parse_field(word).unwrap().1
    }

    #[test]
    fn numbers_booleans_and_strings() {
        assert_eq!(parse_field("pin=2").unwrap(), ("pin".into(), json!(2)));
        assert_eq!(value("value=0"), json!(0));
        assert_eq!(value("n=-3"), json!(-3));
        assert_eq!(value("big=18446744073709551615"), json!(u64::MAX));
        assert_eq!(value("timeout=2.5"), json!(2.5));
        assert_eq!(value("t=1e3"), json!(1000.0));
        assert_eq!(value("deep=true"), json!(true));
        assert_eq!(value("deep=false"), json!(false));
        assert_eq!(value("mode=output"), json!("output"));
        assert_eq!(value("pull=none"), json!("none"));
        assert_eq!(value("name="), json!(""));
        assert_eq!(value("expr=a=b"), json!("a=b"));
    }

    #[test]
    fn words_rust_reads_as_floats_but_json_cannot_hold_stay_strings() {
        for w in ["inf", "-inf", "NaN", "infinity", "nan"] {
            assert_eq!(value(&format!("x={w}")), json!(w), "{w}");
        }
        assert_eq!(value("x=True"), json!("True"));
    }

    #[test]
    fn strings_can_be_forced() {
        assert_eq!(value("ssid=str:1234"), json!("1234"));
        assert_eq!(value("a=str:007"), json!("007"));
        assert_eq!(value("b=str:true"), json!("true"));
        assert_eq!(value("c=str:"), json!(""));
        assert_eq!(value("d=str:str:x"), json!("str:x"));
        assert_eq!(value(r#"ssid="1234""#), json!("1234"));
        assert_eq!(value(r#"s="a \"q\"""#), json!("a \"q\""));
        assert_eq!(value(r#"e="""#), json!(""));
        // A lone quote, or quotes inside, stay as typed.
        assert_eq!(value(r#"f=""#), json!("\""));
        assert_eq!(value(r#"g=a"b"#), json!("a\"b"));
        assert!(parse_field(r#"h="bad \x""#)
            .unwrap_err()
            .contains("not a JSON string"));
    }

    #[test]
    fn malformed_words_are_refused() {
        assert!(parse_field("pin").unwrap_err().contains("KEY=VALUE"));
        assert!(parse_field("=2").unwrap_err().contains("empty key"));
    }

    #[test]
    fn a_key_twice_is_refused() {
        let fields = vec![("pin".to_owned(), json!(2)), ("pin".to_owned(), json!(3))];
        assert!(command(&fields).unwrap_err().contains("pin is given twice"));
        let ok = command(&fields[..1]).unwrap();
        assert_eq!(Value::Object(ok), json!({"pin": 2}));
    }
}
