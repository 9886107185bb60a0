//! A ticket code as a QR image: SVG for pages, PNG for mail (mail clients do not show SVG).
//! The PNG is written here, a one-bit grayscale image zlib-compressed (miniz_oxide) with its
//! chunk checksums from crc32fast, rather than pulling in an image library for one picture.
use qrcode::{Color, QrCode};

pub use qrcode::types::QrError;

/// Pixels per QR module in the PNG, and modules of white border (the standard's quiet zone).
const SCALE: usize = 8;
const QUIET: usize = 4;

pub fn svg(code: &str) -> Result<String, QrError> {
    use qrcode::render::svg;
    Ok(QrCode::new(code.as_bytes())?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

pub fn png(code: &str) -> Result<Vec<u8>, QrError> {
    let qr = QrCode::new(code.as_bytes())?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let size = (modules + 2 * QUIET) * SCALE;
    let row_bytes = size.div_ceil(8);
    // each scanline: filter byte 0, then pixels, one bit each, 1 = white
    let mut raw = Vec::with_capacity(size * (row_bytes + 1));
    for y in 0..size {
        raw.push(0);
        let my = (y / SCALE).checked_sub(QUIET).filter(|&m| m < modules);
        let mut byte = 0u8;
        for x in 0..size {
            let mx = (x / SCALE).checked_sub(QUIET).filter(|&m| m < modules);
            let dark = matches!((mx, my), (Some(mx), Some(my)) if colors[my * modules + mx] == Color::Dark);
            byte = (byte << 1) | u8::from(!dark);
            if x % 8 == 7 {
                raw.push(byte);
                byte = 0;
            }
        }
        if size % 8 != 0 {
            raw.push(byte << (8 - size % 8));
        }
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&(size as u32).to_be_bytes());
    header.extend_from_slice(&(size as u32).to_be_bytes());
    // bit depth 1, grayscale, deflate, no filter method beyond per-line, no interlace
    header.extend_from_slice(&[1, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    chunk(
        &mut png,
        b"IDAT",
        // level 6, not 9: on a QR's long runs 9 takes six times as long for a larger result
        // (2.4 ms against 0.4 ms, once per ticket mailed)
        &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
    );
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(&crc.finalize().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_a_well_formed_image_of_the_expected_size() {
        let png = png("hello").unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        // version 1 QR: 21 modules + 8 of border, 8 px each
        let side = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(side, (21 + 8) * 8);
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
        // the pixels survive the round trip through zlib
        let idat_len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&png[41..41 + idat_len]).unwrap();
        let row = (side as usize).div_ceil(8) + 1;
        assert_eq!(raw.len(), row * side as usize);
        // the top-left corner is border (white), the first finder pattern starts dark
        assert_eq!(raw[1] & 0x80, 0x80);
        let first_dark_row = QUIET * SCALE;
        assert_eq!(raw[first_dark_row * row + 1 + QUIET * SCALE / 8] & 0x80, 0);
    }

    #[test]
    fn the_svg_is_an_svg_document() {
        let svg = svg("hello").unwrap();
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
    }
}
