//! What the fuzz targets share: reading a fuzzer input as a body and the chunks it arrives in,
//! so that the fuzzer chooses the split points as well as the bytes.

/// Splits a fuzzer input into the body and its chunks. The first byte `n` (taken modulo 17)
/// says how many of the next bytes are chunk lengths; they are used in turn until the body
/// is consumed, a length of 0 giving an empty chunk before a one-byte one. With no lengths
/// (`n == 0`) the body arrives one byte at a time.
pub fn chunks(data: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let n = data.first().map_or(0, |&b| usize::from(b % 17));
    let head = data.len().min(1 + n);
    let (lengths, body) = (&data[1.min(head)..head], &data[head..]);
    let mut out = Vec::new();
    let mut rest = body;
    let mut next = lengths.iter().cycle();
    while !rest.is_empty() {
        let len = match next.next() {
            Some(0) => {
                out.push(&rest[..0]);
                1
            }
            Some(&len) => usize::from(len),
            None => 1,
        };
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push(chunk);
        rest = tail;
    }
    (body, out)
}
