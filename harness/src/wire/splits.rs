//! Test helper: the ways to cut an input into the chunks a socket may deliver, for testing the
//! byte-fed decoders (the same input, however split, must decode the same).

/// Every way to cut `input` into two or three pieces, and into pieces of every fixed size.
/// (All 2^(n-1) splits would be too many; a decoder that keeps state across one or two cuts
/// at every position keeps it across any number.)
pub(crate) fn every_split(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let n = input.len();
    let mut out = vec![vec![input]];
    for a in 0..=n {
        out.push(vec![&input[..a], &input[a..]]);
        for b in a..=n {
            out.push(vec![&input[..a], &input[a..b], &input[b..]]);
        }
    }
    for size in 1..=n.max(1) {
        out.push(input.chunks(size).collect());
    }
    out
}

/// For long inputs: about a hundred two-piece cuts spread over the input, and pieces of every
/// size from 1 to 64.
pub(crate) fn sampled_splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut out: Vec<Vec<&[u8]>> = (0..=input.len())
        .step_by(input.len() / 97 + 1)
        .map(|at| vec![&input[..at], &input[at..]])
        .collect();
    for size in 1..=64 {
        out.push(input.chunks(size).collect());
    }
    out
}
