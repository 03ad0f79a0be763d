//! Edge cases of the DDF parser, on the hand-written fixtures in `tests/fixtures/` and on
//! small inline documents, with the exact errors expected.

use lwm2m_core::{Cardinality, DataType, Operations, ResourceId, Version};
use lwm2m_ddf::{DdfErrorKind, Limits, Parser, parse_bytes, parse_file, parse_str};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn error_of(text: &str) -> String {
    parse_str(text, "t.xml").expect_err("should be rejected").to_string()
}

/// A valid one-resource document with `item` as the resource's children and `object` as
/// extra object children.
fn doc(object_extra: &str, item: &str) -> String {
    format!(
        "<LWM2M><Object ObjectType=\"MODefinition\"><Name>T</Name><ObjectID>10500</ObjectID>\
         <ObjectURN>urn:oma:lwm2m:x:10500</ObjectURN><MultipleInstances>Single</MultipleInstances>\
         <Mandatory>Optional</Mandatory>{object_extra}<Resources><Item ID=\"3\">{item}</Item></Resources></Object></LWM2M>"
    )
}

const GOOD_ITEM: &str = "<Name>R</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>\
                         <Mandatory>Optional</Mandatory><Type>String</Type>";

#[test]
fn byte_order_mark_is_accepted() {
    let bytes = fixture("bom.xml");
    assert_eq!(&bytes[..3], b"\xef\xbb\xbf", "the fixture must start with a BOM");
    let defs = parse_bytes(&bytes, "bom.xml").unwrap();
    assert_eq!(defs.len(), 1);
    let m = &defs[0].model;
    assert_eq!((m.id.get(), &*m.name), (10400, "BOM Test"));
    assert_eq!(m.lwm2m_version, Version::new(1, 1));
    assert_eq!(m.resources[0].data_type, DataType::UnsignedInteger);
    assert!(defs[0].notice.contains("byte order mark"));
    // Also through the file path and the string entry point.
    let from_file = parse_file(format!("{}/tests/fixtures/bom.xml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert_eq!(from_file[0].model, defs[0].model);
    assert!(from_file[0].source_name.ends_with("bom.xml"));
    assert_eq!(parse_str(std::str::from_utf8(&bytes).unwrap(), "bom.xml").unwrap(), defs);
}

#[test]
fn missing_optional_elements_get_defaults() {
    let defs = parse_bytes(&fixture("minimal.xml"), "minimal.xml").unwrap();
    let m = &defs[0].model;
    assert_eq!(m.id.get(), 10401);
    assert_eq!(m.version, Version::V1_0);
    assert_eq!(m.lwm2m_version, Version::V1_0);
    assert_eq!(m.cardinality, Cardinality::Multiple);
    assert_eq!(m.description, "");
    assert_eq!(defs[0].description2, "");
    // Resources come out sorted by id whatever the document order.
    let ids: Vec<u16> = m.resources.iter().map(|r| r.id.get()).collect();
    assert_eq!(ids, [0, 1]);
    let reset = &m.resources[0];
    assert_eq!((reset.operations, reset.data_type), (Operations::E, DataType::None));
    let switch = m.resource(ResourceId::new(1).unwrap()).unwrap();
    assert_eq!((&*switch.name, switch.operations, switch.data_type), ("Switch", Operations::RW, DataType::Boolean));
    assert_eq!((&*switch.range, &*switch.units, &*switch.description), ("", "", ""));
}

#[test]
fn multiple_instance_resource() {
    let defs = parse_bytes(&fixture("multiple.xml"), "multiple.xml").unwrap();
    let m = &defs[0].model;
    assert_eq!(m.version, Version::new(1, 1));
    assert_eq!(m.description, "Holds <readings>.");
    let r = &m.resources[0];
    assert_eq!(r.cardinality, Cardinality::Multiple);
    assert!(r.is_multiple() && r.mandatory);
    assert_eq!((r.data_type, &*r.range, &*r.units), (DataType::Float, "-40..85", "Cel"));
    assert_eq!(r.description, "Temperatures & more.");
}

#[test]
fn bad_type_is_named_with_file_object_and_resource() {
    let err = parse_bytes(&fixture("bad_type.xml"), "bad_type.xml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad_type.xml:16:9: object 10300 \"Vendor Lamp\", resource 2 \"Level\": unknown <Type> \"Integr\" \
         (expected one of: String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, Objlnk, Corelnk or empty)"
    );
    assert_eq!(err.kind(), &DdfErrorKind::BadType { input: "Integr".into() });
    assert_eq!(err.object().and_then(|o| o.id), Some(10300));
    assert_eq!(err.resource().and_then(|r| r.id), Some(2));
    assert_eq!(err.position(), Some((16, 9)));
}

#[test]
fn duplicate_resource_id() {
    let err = parse_bytes(&fixture("duplicate_id.xml"), "duplicate_id.xml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "duplicate_id.xml:18:7: object 10403 \"Twice\", resource 1 \"Second\": duplicate resource id 1 (first defined at line 11)"
    );
    assert_eq!(err.kind(), &DdfErrorKind::DuplicateResource { id: 1, first_line: 11 });
}

#[test]
fn enumerations_are_checked() {
    let item = GOOD_ITEM.replace("<Operations>R</Operations>", "<Operations>RE</Operations>");
    assert_eq!(
        error_of(&doc("", &item)),
        "t.xml:1:240: object 10500 \"T\", resource 3 \"R\": unknown <Operations> \"RE\" (expected one of: R, W, RW, E or empty)"
    );
    let item = GOOD_ITEM.replace("<MultipleInstances>Single", "<MultipleInstances>single");
    assert!(
        error_of(&doc("", &item))
            .ends_with("resource 3 \"R\": unknown <MultipleInstances> \"single\" (expected one of: Single, Multiple)")
    );
    let item = GOOD_ITEM.replace("<Mandatory>Optional", "<Mandatory>Yes");
    assert!(
        error_of(&doc("", &item))
            .ends_with("resource 3 \"R\": unknown <Mandatory> \"Yes\" (expected one of: Mandatory, Optional)")
    );
    // Types match the schema's spelling exactly.
    let item = GOOD_ITEM.replace("<Type>String", "<Type>string");
    assert!(error_of(&doc("", &item)).contains("unknown <Type> \"string\""));
    // Surrounding whitespace is tolerated.
    let item = GOOD_ITEM.replace("<Operations>R</Operations>", "<Operations> RW\n</Operations>");
    assert_eq!(parse_str(&doc("", &item), "t.xml").unwrap()[0].model.resources[0].operations, Operations::RW);
}

#[test]
fn ids_are_checked() {
    let text = doc("", GOOD_ITEM).replace("ID=\"3\"", "ID=\"65535\"");
    assert_eq!(
        error_of(&text),
        "t.xml:1:213: object 10500 \"T\", resource ? \"R\": resource ID= \"65535\" is not an id in 0..=65534"
    );
    let text = doc("", GOOD_ITEM).replace("ID=\"3\"", "ID=\"-1\"");
    assert!(error_of(&text).ends_with("resource ID= \"-1\" is not an id in 0..=65534"));
    let text = doc("", GOOD_ITEM).replace("<ObjectID>10500", "<ObjectID>70000");
    assert_eq!(error_of(&text), "t.xml:1:56: object ? \"T\": <ObjectID> \"70000\" is not an id in 0..=65534");
    let text = doc("", GOOD_ITEM).replace(" ID=\"3\"", "");
    assert!(error_of(&text).ends_with("resource ? \"R\": missing required attribute ID= on <Item>"));
}

#[test]
fn structure_is_checked() {
    assert_eq!(
        error_of(&doc("", &GOOD_ITEM.replace("<Type>String</Type>", ""))),
        "t.xml:1:213: object 10500 \"T\", resource 3 \"R\": missing required element <Type>"
    );
    assert!(
        error_of(&doc("<Colour>red</Colour>", GOOD_ITEM))
            .ends_with("object 10500 \"T\": unexpected element <Colour> inside <Object>")
    );
    assert!(
        error_of(&doc("<ObjectVersion>1.0</ObjectVersion><ObjectVersion>1.1</ObjectVersion>", GOOD_ITEM))
            .ends_with("object 10500 \"T\": element <ObjectVersion> appears more than once")
    );
    assert!(
        error_of(&doc("<ObjectVersion>v2</ObjectVersion>", GOOD_ITEM))
            .ends_with("object 10500 \"T\": <ObjectVersion> \"v2\" is not a major.minor version")
    );
    assert!(error_of(&doc("", &GOOD_ITEM.replace("<Name>R</Name>", "<Name> </Name>"))).ends_with("<Name> is empty"));
    assert!(error_of(&doc("stray", GOOD_ITEM)).ends_with("unexpected text \"stray\" inside <Object>"));
    assert_eq!(error_of("<DDF/>"), "t.xml:1:1: root element is <DDF>, expected <LWM2M>");
    assert_eq!(
        error_of("<LWM2M></LWM2M>"),
        "t.xml:1:1: <LWM2M> contains no <Object> (the schema requires at least one)"
    );
    let no_items = doc("", GOOD_ITEM).replace(&format!("<Item ID=\"3\">{GOOD_ITEM}</Item>"), "");
    assert!(error_of(&no_items).ends_with("object 10500 \"T\": missing required element <Item>"));
    let no_type_attr = doc("", GOOD_ITEM).replace(" ObjectType=\"MODefinition\"", "");
    assert!(error_of(&no_type_attr).ends_with("missing required attribute ObjectType= on <Object>"));
    let twice = doc("", GOOD_ITEM).replace("</LWM2M>", "") + &doc("", GOOD_ITEM).replace("<LWM2M>", "");
    assert!(error_of(&twice).contains("object 10500 is defined twice (first in t.xml:1)"), "{}", error_of(&twice));
}

#[test]
fn malformed_input() {
    let err = error_of("<LWM2M><Object>");
    assert!(err.starts_with("t.xml: malformed XML: "), "{err}");
    let err = parse_bytes(b"<LWM2M>\xff</LWM2M>", "bin.xml").unwrap_err();
    assert_eq!(err.to_string(), "bin.xml: input is not valid UTF-8 (at byte 7)");
    let dtd = "<!DOCTYPE LWM2M [<!ENTITY a \"aaaa\">]><LWM2M/>";
    assert!(error_of(dtd).starts_with("t.xml: malformed XML: "));
    let small = Parser::with_limits(Limits::default().max_input_bytes(10));
    assert_eq!(
        small.parse_str(&doc("", GOOD_ITEM), "big.xml").unwrap_err().to_string(),
        format!("big.xml: input is {} bytes, more than the limit of 10 bytes", doc("", GOOD_ITEM).len())
    );
    let few = Parser::with_limits(Limits::default().max_resources(1));
    let two = doc("", GOOD_ITEM).replace("</Resources>", &format!("<Item ID=\"4\">{GOOD_ITEM}</Item></Resources>"));
    assert!(few.parse_str(&two, "t.xml").unwrap_err().to_string().ends_with("more than 1 resources"));
    let missing = parse_file("/nonexistent/x.xml").unwrap_err();
    assert!(matches!(missing.kind(), DdfErrorKind::Io { .. }));
    assert!(missing.to_string().starts_with("/nonexistent/x.xml: cannot read /nonexistent/x.xml: "));
}
