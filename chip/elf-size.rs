//! Section sizes of the chip images (ELF32 little endian), for scripts/chip-size.sh. A single
//! file with no dependencies, built with plain `rustc` (no llvm-size or binutils needed):
//!
//! `rustc --edition 2021 -O chip/elf-size.rs -o chip/target/elf-size`
//! `chip/target/elf-size [--json OUT] LABEL=ELF…`
//!
//! Prints .text, .rodata, .data, .bss (and any other allocated section) of each ELF, flash
//! (text + rodata + data's initial values + other) and static RAM (data + bss), and the
//! `size_of` entries of the `.juki_sizes` section (chip/src/main.rs), which is not counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

const SHF_ALLOC: u32 = 0x2;
const SHT_NOBITS: u32 = 8;
const SIZES_SECTION: &str = ".juki_sizes";

struct Section {
    name: String,
    kind: u32,
    flags: u32,
    offset: usize,
    size: usize,
}

fn u16_at(b: &[u8], at: usize) -> Result<usize, String> {
    let bytes = b.get(at..at + 2).ok_or("truncated ELF")?;
    Ok(usize::from(u16::from_le_bytes([bytes[0], bytes[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    let bytes = b.get(at..at + 4).ok_or("truncated ELF")?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn sections(elf: &[u8]) -> Result<Vec<Section>, String> {
    // e_ident: magic, ELFCLASS32 (1), ELFDATA2LSB (1).
    if elf.get(..6) != Some(&[0x7F, b'E', b'L', b'F', 1, 1][..]) {
        return Err("not an ELF32 little-endian file".into());
    }
    let shoff = u32_at(elf, 0x20)? as usize;
    let shentsize = u16_at(elf, 0x2E)?;
    let shnum = u16_at(elf, 0x30)?;
    let shstrndx = u16_at(elf, 0x32)?;
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u32_at(elf, header(shstrndx) + 0x10)? as usize;
    let mut out = Vec::new();
    for i in 0..shnum {
        let h = header(i);
        let name_at = strtab + u32_at(elf, h)? as usize;
        let name_bytes = elf.get(name_at..).ok_or("bad section name")?;
        let end = name_bytes
            .iter()
            .position(|&c| c == 0)
            .ok_or("bad section name")?;
        out.push(Section {
            name: String::from_utf8_lossy(&name_bytes[..end]).into_owned(),
            kind: u32_at(elf, h + 0x04)?,
            flags: u32_at(elf, h + 0x08)?,
            offset: u32_at(elf, h + 0x10)? as usize,
            size: u32_at(elf, h + 0x14)? as usize,
        });
    }
    Ok(out)
}

/// `.text`, `.rodata`, `.data`, `.bss` and other allocated sections, summed by kind.
fn classify(sections: &[Section]) -> BTreeMap<&'static str, usize> {
    let mut sizes: BTreeMap<&'static str, usize> = ["text", "rodata", "data", "bss", "other"]
        .map(|k| (k, 0))
        .into();
    for s in sections {
        if s.flags & SHF_ALLOC == 0 || s.name == SIZES_SECTION {
            continue;
        }
        let kind = match s.name.as_str() {
            n if n.starts_with(".text") => "text",
            n if n.starts_with(".rodata") => "rodata",
            n if n.starts_with(".data") => "data",
            n if n.starts_with(".bss") || s.kind == SHT_NOBITS => "bss",
            _ => "other",
        };
        *sizes.entry(kind).or_default() += s.size;
    }
    sizes
}

/// The `size_of` entries of `.juki_sizes`: 16-byte NUL-padded name, u32 LE value.
fn size_entries(elf: &[u8], sections: &[Section]) -> Vec<(String, u32)> {
    let Some(s) = sections.iter().find(|s| s.name == SIZES_SECTION) else {
        return Vec::new();
    };
    let Some(bytes) = elf.get(s.offset..s.offset + s.size) else {
        return Vec::new();
    };
    bytes
        .chunks_exact(20)
        .map(|e| {
            let name = e[..16].split(|&c| c == 0).next().unwrap_or_default();
            let value = u32::from_le_bytes([e[16], e[17], e[18], e[19]]);
            (String::from_utf8_lossy(name).into_owned(), value)
        })
        .collect()
}

fn main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json_out = match args.iter().position(|a| a == "--json") {
        Some(i) if i + 1 < args.len() => {
            let path = args.remove(i + 1);
            args.remove(i);
            Some(path)
        }
        Some(_) => return Err("--json needs a path".into()),
        None => None,
    };
    if args.is_empty() {
        return Err("usage: elf-size [--json OUT] LABEL=ELF...".into());
    }
    let mut json = String::from("{\n  \"target\": \"thumbv7em-none-eabihf\",\n  \"builds\": {\n");
    let mut target_sizes = Vec::new();
    for (n, arg) in args.iter().enumerate() {
        let (label, path) = arg.split_once('=').ok_or("arguments are LABEL=ELF")?;
        let elf = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let sections = sections(&elf).map_err(|e| format!("{path}: {e}"))?;
        let sizes = classify(&sections);
        let flash = sizes["text"] + sizes["rodata"] + sizes["data"] + sizes["other"];
        let ram = sizes["data"] + sizes["bss"];
        println!("{label} ({path}):");
        for (kind, shown) in [
            ("text", ".text"),
            ("rodata", ".rodata"),
            ("data", ".data"),
            ("bss", ".bss"),
            ("other", "other"),
        ] {
            println!("  {shown:<9} {:>8} bytes", sizes[kind]);
        }
        println!(
            "  flash     {flash:>8} bytes ({:.1} KiB)",
            flash as f64 / 1024.0
        );
        println!("  static RAM {ram:>7} bytes");
        let fields: Vec<String> = sizes
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .chain([
                format!("\"flash\": {flash}"),
                format!("\"static_ram\": {ram}"),
            ])
            .collect();
        let comma = if n + 1 < args.len() { "," } else { "" };
        let _ = writeln!(json, "    \"{label}\": {{ {} }}{comma}", fields.join(", "));
        if target_sizes.is_empty() {
            target_sizes = size_entries(&elf, &sections);
        }
    }
    json.push_str("  },\n  \"size_of_on_target\": {");
    if !target_sizes.is_empty() {
        println!("size_of on the target (32-bit):");
        for (name, value) in &target_sizes {
            println!("  {name:<16} {value:>6} bytes");
        }
        let fields: Vec<String> = target_sizes
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        let _ = write!(json, " {} ", fields.join(", "));
    }
    json.push_str("}\n}\n");
    if let Some(out) = json_out {
        std::fs::write(&out, json).map_err(|e| format!("{out}: {e}"))?;
        println!("wrote {out}");
    }
    Ok(())
}
