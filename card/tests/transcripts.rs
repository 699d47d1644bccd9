//! Replays every APDU transcript of `test-vectors/` against the card core in process.

mod common;

use common::{new_card, power_cycle, TestCard};
use juki_card::Response;
use juki_test_vectors::{runnable, Exchange};

struct InProcess(Option<TestCard>);

impl Exchange for InProcess {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut response = Response::new();
        match self.0.as_mut() {
            Some(card) => card.process(apdu, &mut response),
            None => unreachable!("the card is always back in place between calls"),
        }
        response.to_vec()
    }

    fn reset(&mut self) {
        // A full power cycle: the card is rebuilt from its NVM alone.
        self.0 = self.0.take().map(power_cycle);
    }
}

#[test]
fn every_transcript_replays_on_the_card_core() {
    let mut failures = Vec::new();
    let (mut apdus, mut checks, mut count) = (0, 0, 0);
    for transcript in runnable() {
        let mut card = InProcess(Some(new_card()));
        match transcript.replay(&mut card) {
            Ok(stats) => {
                apdus += stats.apdus;
                checks += stats.checks;
                count += 1;
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    println!("{count} transcripts, {apdus} APDUs, {checks} checks in process");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        count >= 14 && checks > 800,
        "too little ran: {count} transcripts, {checks} checks"
    );
}
