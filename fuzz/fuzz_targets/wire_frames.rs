//! Feeds arbitrary bytes, cut at arbitrary places, to the frame decoder and decodes
//! every frame it returns as what its kind carries. Nothing may panic or allocate
//! without bound; errors are fine.
#![no_main]

use doreisa_proto::frame::FrameDecoder;
use doreisa_proto::wire::check_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the input is cut in two.
    let (cut, rest) = match data.split_first() {
        Some((&cut, rest)) => (cut as usize % (rest.len() + 1), rest),
        None => return,
    };
    let mut decoder = FrameDecoder::new(1 << 20);
    for piece in [&rest[..cut], &rest[cut..]] {
        decoder.feed(piece);
        while let Ok(Some(frame)) = decoder.next_frame() {
            let _ = check_frame(&frame);
        }
    }
    let _ = decoder.finish();
});
