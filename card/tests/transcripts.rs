//! Replays every APDU transcript of `test-vectors/` against the card core in process.

use juki_card::{Card, Nvm, NvmError, Response, NVM_SIZE};
use juki_test_vectors::{runnable, Exchange};
use rand_core::OsRng;

struct MemNvm(Vec<u8>);

impl Nvm for MemNvm {
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let src = self
            .0
            .get(offset..offset + buf.len())
            .ok_or(NvmError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), NvmError> {
        let dst = self
            .0
            .get_mut(offset..offset + data.len())
            .ok_or(NvmError::OutOfRange)?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

struct InProcess(Option<Card<MemNvm, OsRng>>);

impl InProcess {
    fn card(&mut self) -> &mut Card<MemNvm, OsRng> {
        self.0.get_or_insert_with(|| unreachable!())
    }
}

impl Exchange for InProcess {
    fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        let mut response = Response::new();
        self.card().process(apdu, &mut response);
        response.to_vec()
    }

    fn reset(&mut self) {
        // A full power cycle: the card is rebuilt from its NVM alone.
        if let Some(card) = self.0.take() {
            let (nvm, rng) = card.into_parts();
            self.0 = Some(Card::power_on(nvm, rng));
        }
    }
}

#[test]
fn every_transcript_replays_on_the_card_core() {
    let mut failures = Vec::new();
    let mut total = (0, 0);
    for transcript in runnable() {
        let nvm = MemNvm(vec![0xFF; NVM_SIZE]);
        let mut card = InProcess(Some(Card::power_on(nvm, OsRng)));
        match transcript.replay(&mut card) {
            Ok(stats) => {
                total.0 += stats.apdus;
                total.1 += stats.checks;
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    println!("{} APDUs, {} checks", total.0, total.1);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total.1 > 200, "too few checks ran: {}", total.1);
}
