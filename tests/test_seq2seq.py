"""The seq2seq model: masking, greedy decoding with EOS and max length, regimes, training and translation."""

import math

import pytest
import torch

from lecture_utils.data.numerals import TARGET_VOCAB, make_batch, make_splits
from lecture_utils.models.feeding import (
    Regime,
    choose_next_input,
    decay_k_for_midpoint,
    draw_coins,
    inverse_sigmoid_decay,
    standard_regimes,
)
from lecture_utils.models.professor_forcing import BehaviourDiscriminator, professor_forcing_loss, state_gap
from lecture_utils.models.seq2seq import (
    EOS,
    FIRST_WORD_ID,
    N_WORDS,
    PAD,
    SOS,
    Seq2Seq,
    decode_after_injection,
    digit_places,
    draw_injections,
    evaluate,
    plausible_errors,
    recovery_after_error,
    sample_words,
    sequence_loss,
    translate,
)
from lecture_utils.models.seq2seq_training import (
    ExperimentConfig,
    RegimeRun,
    discriminator_accuracy,
    package_loss,
    results_table,
    train_regime,
)
from lecture_utils.seed_stats import format_seed_table, seed_summary, seed_values, separated
from lecture_utils.training import History


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Seq2Seq(embed=8, hidden=16)


def test_padding_does_not_change_the_loss(model):
    alone = make_batch([2_026])
    padded = make_batch([2_026, 123_456_789_012, 5])
    loss_alone = sequence_loss(model(alone.src, alone.src_lengths, alone.tgt).logits, alone.tgt)
    out = model(padded.src, padded.src_lengths, padded.tgt)
    assert torch.allclose(sequence_loss(out.logits[:1], padded.tgt[:1]), loss_alone, atol=1e-6)


def test_padded_targets_are_ignored():
    logits = torch.randn(2, 4, 6)
    tgt = torch.tensor([[3, 4, EOS, PAD], [5, 3, 4, EOS]])
    noisy = logits.clone()
    noisy[0, 3] = torch.randn(6) * 100  # a padded position
    assert torch.allclose(sequence_loss(logits, tgt), sequence_loss(noisy, tgt))


class ScriptedSeq2Seq(Seq2Seq):
    """A model whose decoder emits a fixed script per example (to test the decoding loop)."""

    def __init__(self, script):
        super().__init__(embed=4, hidden=4)
        self.script, self.t = script, 0

    def step(self, prev, h, feed, memory, mask):
        logits = torch.full((prev.shape[0], self.tgt_vocab), -5.0)
        logits[torch.arange(prev.shape[0]), self.script[:, min(self.t, self.script.shape[1] - 1)]] = 5.0
        self.t += 1
        return logits, h, feed, torch.ones(prev.shape[0], memory.shape[1]) / memory.shape[1]


def test_greedy_decoding_stops_at_eos_and_pads_after_it():
    script = torch.tensor([[5, 6, EOS, 7, 7], [4, EOS, 7, 7, 7]])
    fake = ScriptedSeq2Seq(script)
    batch = make_batch([12, 3])
    tokens, attention = fake.greedy_decode(batch.src, batch.src_lengths, max_len=10)
    assert tokens.tolist() == [[5, 6, EOS], [4, EOS, PAD]]
    assert attention.shape == (2, 3, 2)
    assert fake.t == 3  # the loop stopped once both had emitted <eos>


def test_greedy_decoding_respects_max_len():
    fake = ScriptedSeq2Seq(torch.tensor([[5, 6, 7, 8, 9, 10, 11]]))
    batch = make_batch([12])
    tokens, _ = fake.greedy_decode(batch.src, batch.src_lengths, max_len=4)
    assert tokens.shape == (1, 4)
    with pytest.raises(ValueError, match="max_len"):
        fake.greedy_decode(batch.src, batch.src_lengths, max_len=0)


def test_attention_ignores_padding(model):
    batch = make_batch([7, 123_456])
    out = model(batch.src, batch.src_lengths, batch.tgt)
    assert out.attention.shape == (2, batch.tgt.shape[1], 6)
    assert torch.all(out.attention[0, :, 1:] == 0)
    assert torch.allclose(out.attention.sum(-1), torch.ones(2, batch.tgt.shape[1]))


def test_bad_tensors_give_clear_errors(model):
    batch = make_batch([12, 345])
    with pytest.raises(ValueError, match="src"):
        model.encode(batch.src.float(), batch.src_lengths)
    with pytest.raises(ValueError, match="src_lengths"):
        model.encode(batch.src, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="ids in"):
        model.encode(batch.src + 50, batch.src_lengths)
    with pytest.raises(ValueError, match="tgt"):
        model(batch.src, batch.src_lengths, batch.tgt[:1])


@pytest.mark.parametrize("text", ["", "1x", "0123", "1" * 13])
def test_translate_rejects_bad_input(model, text):
    with pytest.raises(ValueError, match="text"):
        translate(model, text)


def test_translate_returns_words_and_attention(model):
    words, attention, digits = translate(model, "2 026")
    assert digits == "2026"
    assert all(w in TARGET_VOCAB.stoi for w in words)
    assert attention.shape[1] == 4 and attention.shape[0] in (len(words), len(words) + 1)


def test_choose_next_input():
    true, pred = torch.zeros(10_000, dtype=torch.long), torch.ones(10_000, dtype=torch.long)
    assert torch.equal(choose_next_input(true, pred, 1.0, None), true)
    assert torch.equal(choose_next_input(true, pred, 0.0, None), pred)
    share = (choose_next_input(true, pred, 0.3, torch.Generator().manual_seed(0)) == 0).float().mean()
    assert abs(share.item() - 0.3) < 0.02
    with pytest.raises(ValueError, match="teacher_prob"):
        choose_next_input(true, pred, 1.5, None)
    with pytest.raises(ValueError, match="same shape"):
        choose_next_input(true, pred[:5], 0.5, None)


def test_inverse_sigmoid_decay_and_midpoint():
    k = decay_k_for_midpoint(300)
    assert math.isclose(k * math.log(k), 300, rel_tol=1e-6)
    assert math.isclose(inverse_sigmoid_decay(300, k), 0.5, rel_tol=1e-6)
    assert inverse_sigmoid_decay(0, k) > 0.95 and inverse_sigmoid_decay(1200, k) < 0.01
    assert inverse_sigmoid_decay(0, 1.0) == 0.5  # k = 1, the smallest allowed: 1 / (1 + e^0)
    small = decay_k_for_midpoint(1.0)  # k ln k = 1 has its root below 2, near 1.763
    assert math.isclose(small * math.log(small), 1.0, rel_tol=1e-9) and small < 2
    with pytest.raises(ValueError, match="k >= 1"):
        inverse_sigmoid_decay(0, 0.5)
    for midpoint in (0, -1.0):
        with pytest.raises(ValueError, match="midpoint"):
            decay_k_for_midpoint(midpoint)


def test_regimes():
    regimes = {r.name: r for r in standard_regimes(400, adversarial_weight=0.3, temperature=2.0)}
    assert list(regimes) == [
        "teacher_forcing",
        "teacher_forcing_argmax_watch",
        "free_running",
        "lecture_coin",
        "scheduled_sampling",
        "professor_argmax",
        "professor_sampled",
    ]
    watched = {n: (r.adversarial_weight, r.temperature) for n, r in regimes.items() if r.kind == "professor"}
    assert watched == {"teacher_forcing": (0.0, 2.0), "teacher_forcing_argmax_watch": (0.0, None),
                       "professor_argmax": (0.3, None), "professor_sampled": (0.3, 2.0)}
    assert regimes["lecture_coin"].coin == "sequence" and regimes["lecture_coin"].teacher_prob_at(0) == 0.5
    assert regimes["free_running"].teacher_prob_at(0) == 0.0
    scheduled = regimes["scheduled_sampling"]
    assert math.isclose(scheduled.teacher_prob_at(200), 0.5, rel_tol=1e-6)  # halfway through the 400 steps
    with pytest.raises(ValueError, match="kind"):
        Regime("x", "bogus")
    with pytest.raises(ValueError, match="coin"):
        Regime("x", "ratio", 0.5, coin="word")
    for kind, weight in (("ratio", 0.5), ("professor", -0.1)):
        with pytest.raises(ValueError, match="adversarial_weight"):
            Regime("x", kind, adversarial_weight=weight)
    with pytest.raises(ValueError, match="multiple"):
        ExperimentConfig(steps=10, eval_every=3)


def test_professor_forcing_updates_discriminator_and_returns_a_loss(model):
    disc = BehaviourDiscriminator(16, size=8)
    opt = torch.optim.SGD(disc.parameters(), lr=0.1)
    before = [p.detach().clone() for p in disc.parameters()]
    loss = professor_forcing_loss(model, disc, opt, make_batch([12, 2_026, 7]), adversarial_weight=0.5)
    loss.backward()
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert any(not torch.equal(p, b) for p, b in zip(disc.parameters(), before, strict=True))
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad and p is not None)


def test_discriminator_reads_each_sequence_to_its_length():
    disc = BehaviourDiscriminator(4, size=8)
    states = torch.randn(2, 5, 4)
    noisy = states.clone()
    noisy[0, 3:] = 100.0  # past the first sequence's length
    lengths = torch.tensor([3, 5])
    assert torch.allclose(disc(states, lengths)[0], disc(noisy, lengths)[0])


def test_training_learns_and_is_deterministic():
    splits = make_splits(800, 1, 100, 50, seed=0)
    config = ExperimentConfig(embed=16, hidden=32, steps=60, eval_every=30)
    sets = {"test": splits.test, "long": splits.long}
    regime = Regime("teacher_forcing", "ratio", 1.0)
    a = train_regime(regime, splits.train, sets, config, seed=0, progress=False)
    b = train_regime(regime, splits.train, sets, config, seed=0, progress=False)
    assert sorted(a.checkpoints) == [30, 60]
    assert a.history.steps[-1]["loss"] < 0.8 * a.history.steps[0]["loss"]
    assert a.history.steps[-1]["loss"] == b.history.steps[-1]["loss"]
    table = results_table([a])
    assert {row["step"] for row in table} == {30, 60}
    summary = seed_summary(table + results_table([b]), "test_token_accuracy", 60)
    assert summary["teacher_forcing"]["spread"] == 0.0


def test_separated():
    assert separated([0.9, 0.95], [0.5, 0.6])
    assert not separated([0.9, 0.5], [0.6, 0.7])


class RecordingSeq2Seq(Seq2Seq):
    """Emits a fixed script per example (restarting at every encode) and records what each step was fed."""

    def __init__(self, script):
        super().__init__(embed=4, hidden=4)
        self.script, self.t, self.fed = script, 0, []

    def encode(self, src, src_lengths):
        self.t, self.fed = 0, []
        return super().encode(src, src_lengths)

    def step(self, prev, h, feed, memory, mask):
        self.fed.append(prev.clone())
        logits = torch.full((prev.shape[0], self.tgt_vocab), -5.0)
        column = self.script[: prev.shape[0], min(self.t, self.script.shape[1] - 1)]
        logits[torch.arange(prev.shape[0]), column] = 5.0
        self.t += 1
        return logits, h, feed, torch.ones(prev.shape[0], memory.shape[1]) / memory.shape[1]


def test_teacher_forcing_feeds_the_previous_true_word_and_free_running_its_own():
    batch = make_batch([12, 7])  # targets: [двенадцать, <eos>] and [семь, <eos>]
    script = torch.tensor([[5, 6, 7], [8, 9, 10]])
    fake = RecordingSeq2Seq(script)
    fake(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0)
    sos = torch.full((2,), TARGET_VOCAB.sos_index)
    assert [f.tolist() for f in fake.fed] == [sos.tolist(), batch.tgt[:, 0].tolist()]
    fake(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0)
    assert [f.tolist() for f in fake.fed] == [sos.tolist(), script[:, 0].tolist()]


def test_evaluate_counts_exact_matches_and_real_tokens_only():
    numbers = [12, 2_026, 7]  # targets of 2, 5 and 2 tokens (<eos> included), padded to 5
    batch = make_batch(numbers)
    assert batch.tgt.shape == (3, 5)
    script = batch.tgt.clone()
    script[1, 1] = TARGET_VOCAB.stoi["три"]  # one wrong word in 2026: not an exact match, 4 of 5 tokens right
    result = evaluate(RecordingSeq2Seq(script), numbers)
    assert result["exact_match"] == pytest.approx(2 / 3)
    assert result["token_accuracy"] == pytest.approx(8 / 9)  # 9 real target tokens, padding not counted
    assert result["teacher_forced_accuracy"] == pytest.approx(8 / 9)
    assert result["position_count"].tolist() == [3, 3, 1, 1, 1]
    assert result["position_accuracy"].tolist() == pytest.approx([1.0, 2 / 3, 1.0, 1.0, 1.0])


def test_professor_forcing_loss_is_cross_entropy_plus_the_weighted_fooling_term(model):
    torch.manual_seed(1)
    disc = BehaviourDiscriminator(16, size=8)
    frozen = torch.optim.SGD(disc.parameters(), lr=0.0)  # the discriminator step changes nothing here
    batch = make_batch([12, 2_026, 7])
    teacher = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0)
    free = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0)
    lengths = (batch.tgt != PAD).sum(dim=1)
    fool = torch.nn.functional.binary_cross_entropy_with_logits(disc(free.states, lengths), torch.ones(3))
    cross_entropy = sequence_loss(teacher.logits, batch.tgt)
    for weight in (0.0, 0.5, 2.0):
        loss = professor_forcing_loss(model, disc, frozen, batch, adversarial_weight=weight)
        assert torch.allclose(loss, cross_entropy + weight * fool, atol=1e-6), weight
    assert fool > 0.1  # the adversarial term is not negligible, so dropping it would show


def test_draw_coins_per_sequence_and_per_batch():
    gen = torch.Generator().manual_seed(0)
    assert draw_coins(5, 0.5, "token", gen) is None
    assert draw_coins(4, 1.0, "sequence", gen).tolist() == [True] * 4
    assert draw_coins(4, 0.0, "batch", gen).tolist() == [False] * 4
    per_sequence = draw_coins(20_000, 0.5, "sequence", gen)
    assert abs(per_sequence.float().mean().item() - 0.5) < 0.02  # one coin per sequence, not one for all
    per_batch = [draw_coins(64, 0.5, "batch", gen) for _ in range(200)]
    assert all(bool(c.all()) or not bool(c.any()) for c in per_batch)  # all or nothing within a batch
    assert 0.35 < sum(bool(c[0]) for c in per_batch) / 200 < 0.65
    with pytest.raises(ValueError, match="coin"):
        draw_coins(4, 0.5, "word", gen)


def test_a_sequence_coin_holds_for_the_whole_sequence():
    batch = make_batch([2_026, 123_456_789, 21, 1_000_001, 5_005, 99])
    script = torch.full((6, batch.tgt.shape[1]), 7)  # always predicts the same (wrong) word
    fake = RecordingSeq2Seq(script)
    fake(
        batch.src,
        batch.src_lengths,
        batch.tgt,
        teacher_prob=0.5,
        generator=torch.Generator().manual_seed(1),  # coins: no, yes, yes, no, yes, no
        coin="sequence",
    )
    fed = torch.stack(fake.fed[1:], 1)  # (batch, tgt_len - 1): what steps 1.. read
    teacher = (fed == batch.tgt[:, :-1]) | (batch.tgt[:, :-1] == PAD)
    own = fed == 7
    for i in range(6):  # each row reads only true words or only its own predictions
        assert bool(teacher[i].all()) or bool(own[i].all()), i
    assert [bool(teacher[i].all()) for i in range(6)] == [False, True, True, False, True, False]


def test_decode_after_injection_feeds_true_then_wrong_then_own_words():
    batch = make_batch([2_026, 123_456])  # 3 and 5 words
    script = torch.tensor([[11, 12, 13, 14, 15, 16], [21, 22, 23, 24, 25, 26]])
    fake = RecordingSeq2Seq(script)
    positions, wrong = torch.tensor([1, 0]), torch.tensor([40, 41])
    tokens = decode_after_injection(fake, batch.src, batch.src_lengths, batch.tgt, positions, wrong)
    assert tokens.shape == batch.tgt.shape
    fed = torch.stack(fake.fed, 1)
    assert fed[0].tolist()[:4] == [SOS, int(batch.tgt[0, 0]), 40, 13]  # true before j=1, wrong at j, own after
    assert fed[1].tolist()[:3] == [SOS, 41, 22]
    decode_after_injection(fake, batch.src, batch.src_lengths, batch.tgt, positions, None)
    fed = torch.stack(fake.fed, 1)
    assert fed[0].tolist()[:4] == [SOS, int(batch.tgt[0, 0]), int(batch.tgt[0, 1]), 13]


class EchoSeq2Seq(RecordingSeq2Seq):
    """Emits the right target word at every step whatever it reads (a model that always recovers),
    unless ``broken``: then it repeats the word it read (a model that never recovers)."""

    def __init__(self, numbers, broken=False):
        super().__init__(make_batch(numbers).tgt)
        self.broken = broken

    def step(self, prev, h, feed, memory, mask):
        logits, h, feed, attn = super().step(prev, h, feed, memory, mask)
        if self.broken and self.t > 1:
            logits = torch.full_like(logits, -5.0)
            logits[torch.arange(prev.shape[0]), prev] = 5.0
        return logits, h, feed, attn


def test_recovery_after_error_counts_only_the_suffix_after_the_injected_word():
    numbers = [2_026, 123_456, 7, 1_000_000_001, 45]
    perfect = recovery_after_error(EchoSeq2Seq(numbers), numbers, batch_size=8)
    assert perfect["uniform"] == perfect["plausible"] == perfect["clean"] == 1.0
    assert perfect["position_count"].sum() == len(numbers)
    stuck = recovery_after_error(EchoSeq2Seq(numbers, broken=True), numbers, batch_size=8)
    assert stuck["uniform"] == stuck["plausible"] == 0.0  # repeats the wrong word it read: the next output is wrong
    assert stuck["clean"] == 0.0  # it repeats even a true word, so no suffix is right


class LateEchoSeq2Seq(EchoSeq2Seq):
    """Right at every step, except that it repeats a wrong word from the upper half of the words ("sticky") read
    at step ``late`` or later: such an error is carried on, any other is forgotten."""

    def __init__(self, numbers, late):
        super().__init__(numbers)
        self.late = late

    def step(self, prev, h, feed, memory, mask):
        logits, h, feed, attn = super().step(prev, h, feed, memory, mask)
        k = self.t - 1  # the index of the step just taken; it read prev in place of the true word script[k - 1]
        if k >= self.late:
            sticky = (prev != self.script[: prev.shape[0], k - 1]) & (prev >= FIRST_WORD_ID + N_WORDS // 2)
            logits[sticky] = -5.0
            logits[sticky, prev[sticky]] = 5.0
        return logits, h, feed, attn


def test_recovery_judges_each_number_after_its_own_position_and_counts_per_position():
    """Hand-counted: with the errors fed at step >= 2 carried on, a number recovers iff its injected position j
    is 0 (fed at step 1) or the wrong word is not sticky; per position the counts are the draws'."""
    numbers = [2_026, 123_456_789, 1_000_000_001, 45, 999_999, 7_007_007]
    positions, uniform = draw_injections(numbers, seed=3)
    fake = LateEchoSeq2Seq(numbers, late=2)
    result = recovery_after_error(fake, numbers, seed=3, batch_size=8)  # the fake scripts one batch
    sticky = uniform >= FIRST_WORD_ID + N_WORDS // 2
    expected = (positions == 0) | ~sticky  # step j + 1 reads the wrong word: sticky only from step 2 on
    assert result["uniform"] == pytest.approx(float(expected.float().mean()))
    assert result["clean"] == 1.0  # only wrong words stick
    counts = torch.bincount(positions).float()
    assert torch.equal(result["position_count"], counts)
    per_position = torch.bincount(positions, weights=expected.float()) / counts.clamp(min=1)
    assert torch.allclose(result["position_uniform"], per_position)


def test_injections_do_not_depend_on_the_batch_size():
    numbers = list(range(1, 2_000, 7))
    positions, wrong = draw_injections(numbers, seed=0)
    words = [len(TARGET_VOCAB.decode(make_batch([n]).tgt[0])) for n in numbers]
    assert all(0 <= j < w for j, w in zip(positions.tolist(), words, strict=True))
    true = torch.stack([make_batch([n]).tgt[0, j] for n, j in zip(numbers, positions.tolist(), strict=True)])
    assert not bool((wrong == true).any()) and bool((wrong >= FIRST_WORD_ID).all())
    assert len(set(wrong.tolist())) > 30  # uniform over the other words, not a fixed shift
    head, _ = draw_injections(numbers[:50], seed=0)
    assert torch.equal(head, positions[:50])  # number by number: the first draws do not see the rest
    torch.manual_seed(0)
    model = Seq2Seq(embed=8, hidden=16)
    whole = recovery_after_error(model, numbers, batch_size=len(numbers))
    cut = recovery_after_error(model, numbers, batch_size=37)
    for key in ("uniform", "plausible", "clean"):
        assert whole[key] == cut[key], key


def test_plausible_errors_are_the_models_best_wrong_word():
    """At step j (true words before it) the highest logit that is a word and not the true word."""
    batch = make_batch([2_026, 45])  # [две тысячи двадцать шесть] and [сорок пять]
    second = TARGET_VOCAB.stoi["три"]

    class SecondChoice(RecordingSeq2Seq):
        def step(self, prev, h, feed, memory, mask):
            logits, h, feed, attn = super().step(prev, h, feed, memory, mask)
            logits[:, second] = 4.0  # below the true word (5.0), above the rest (-5.0)
            logits[:, EOS] = 4.5  # not a word: never injected
            return logits, h, feed, attn

    fake = SecondChoice(batch.tgt.clone())
    wrong = plausible_errors(fake, batch.src, batch.src_lengths, batch.tgt, torch.tensor([1, 0]))
    assert wrong.tolist() == [second, second]
    # where "три" is itself the true word, the next best word is taken
    batch_three = make_batch([2_000_003])  # [два миллиона три]: "три" at position 2
    fake = SecondChoice(batch_three.tgt.clone())
    wrong = plausible_errors(fake, batch_three.src, batch_three.src_lengths, batch_three.tgt, torch.tensor([2]))
    assert int(wrong) not in (second, EOS, PAD, SOS) and int(wrong) >= FIRST_WORD_ID


def test_recovery_draws_the_same_errors_for_every_model():
    numbers = list(range(1, 300))
    torch.manual_seed(0)
    a = recovery_after_error(Seq2Seq(embed=8, hidden=16), numbers)
    torch.manual_seed(1)
    b = recovery_after_error(Seq2Seq(embed=8, hidden=16), numbers)
    assert torch.equal(a["position_count"], b["position_count"])


def test_professor_forcing_logs_the_discriminator(model):
    disc = BehaviourDiscriminator(16, size=8)
    opt = torch.optim.SGD(disc.parameters(), lr=0.1)
    log = {}
    professor_forcing_loss(model, disc, opt, make_batch([12, 2_026, 7, 45]), adversarial_weight=0.5, log=log)
    assert set(log) == {"discriminator_loss", "discriminator_accuracy", "fool_loss", "cross_entropy"}
    assert log["discriminator_accuracy"] in {i / 8 for i in range(9)}


def test_training_logs_recovery_and_discriminator_and_accepts_a_loss_function():
    splits = make_splits(400, 1, 60, 30, seed=0)
    config = ExperimentConfig(embed=8, hidden=16, steps=20, eval_every=10)
    sets = {"test": splits.test}
    pf = train_regime(
        Regime("pf", "professor", adversarial_weight=1.0),
        splits.train,
        sets,
        config,
        seed=0,
        progress=False,
        recovery_set=splits.test,
    )
    assert len(pf.discriminator_log) == 20
    assert 0.0 <= discriminator_accuracy(pf) <= 1.0
    calls = []

    def my_loss(model, batch, teacher_prob, coin, generator):
        calls.append((teacher_prob, coin))
        out = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=teacher_prob, generator=generator, coin=coin)
        return sequence_loss(out.logits, batch.tgt)

    regime = Regime("lecture_coin", "ratio", 0.5, coin="sequence")
    mine = train_regime(regime, splits.train, sets, config, seed=0, progress=False, loss_fn=my_loss)
    package = train_regime(regime, splits.train, sets, config, seed=0, progress=False)
    assert calls == [(0.5, "sequence")] * 20
    assert mine.history.steps[-1]["loss"] == package.history.steps[-1]["loss"]
    table = results_table([pf, package])
    assert seed_values(table, "pf", "recovered_plausible", 20) == [pf.recovery["plausible"]]
    assert seed_values(table, "pf", "recovered_uniform", 20) == [pf.recovery["uniform"]]
    assert seed_values(table, "pf", "recovered_uniform", 10) == []
    assert "discriminator_accuracy" in format_seed_table(table, ["discriminator_accuracy"], 20)
    with pytest.raises(ValueError, match="professor"):
        discriminator_accuracy(package)


def test_translate_with_an_injected_error(model):
    words, attention, digits = translate(model, "2026", inject_at=1)
    assert digits == "2026" and attention.shape[1] == 4
    assert attention.shape[0] in (len(words), len(words) + 1)
    with pytest.raises(ValueError, match="inject_at"):
        translate(model, "2026", inject_at=4)  # "две тысячи двадцать шесть" has 4 words: 3 is the last
    with pytest.raises(ValueError, match="inject_at"):
        translate(model, "7", inject_at=1)


def test_numeral_translator_shows_the_answer_the_first_wrong_word_and_the_controls():
    from lecture_utils import widgets

    calls = []

    def fake_translate(text, regime, inject_at):
        calls.append((regime, inject_at))
        words = ["две", "тысячи", "три", "шесть"] if regime == "bad" else ["две", "тысячи", "двадцать", "шесть"]
        return words, torch.full((5, len(text)), 1 / len(text)), text

    box = widgets.numeral_translator(
        fake_translate,
        initial="2026",
        regimes={"хороший": "good", "плохой": "bad"},
        reference=lambda text: ["две", "тысячи", "двадцать", "шесть"],
        max_inject=4,
    )
    text_box, selector, slider = box.children[0].children
    label = box.children[1]
    assert calls[-1] == ("good", None)
    assert "правильно:</b> две тысячи двадцать шесть (верно)" in label.value
    selector.value = "bad"
    assert calls[-1] == ("bad", None)
    assert 'underline">три</span>' in label.value and "(с ошибкой)" in label.value
    assert label.value.count("underline") == 1  # only the first wrong word
    slider.value = 2
    assert calls[-1] == ("bad", 1)
    assert "вместо слова 2" in label.value


class ConstantJudge(torch.nn.Module):
    """A discriminator stand-in whose logit is one learnable number for every sequence."""

    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = torch.nn.Parameter(torch.tensor(logit))

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.logit + 0 * states[:, 0, 0]  # (batch,), still depends on the states for the fooling gradient


@pytest.mark.parametrize(("logit", "accuracy"), [(0.5, 0.5), (-0.5, 0.5), (0.0, 0.0)])
def test_professor_forcing_logs_hand_computed_values(model, logit, accuracy):
    """A constant logit calls every sequence the same: right on one half (none when undecided at exactly 0).
    Its loss is BCE(teacher, 1) + BCE(free, 0); with a frozen judge the fooling loss is BCE(free, 1), and the
    default weight adds it once to the cross-entropy."""
    judge = ConstantJudge(logit)
    log = {}
    batch = make_batch([12, 2_026, 7])
    loss = professor_forcing_loss(model, judge, torch.optim.SGD(judge.parameters(), lr=0.0), batch, log=log)
    softplus = torch.nn.functional.softplus
    x = torch.tensor(logit)
    cross_entropy = sequence_loss(model(batch.src, batch.src_lengths, batch.tgt).logits, batch.tgt)
    assert log["discriminator_accuracy"] == accuracy
    assert log["discriminator_loss"] == pytest.approx((softplus(-x) + softplus(x)).item(), abs=1e-6)
    assert log["fool_loss"] == pytest.approx(softplus(-x).item(), abs=1e-6)
    assert log["cross_entropy"] == pytest.approx(cross_entropy.item(), abs=1e-6)
    assert loss.item() == pytest.approx(log["cross_entropy"] + log["fool_loss"], abs=1e-6)


def test_the_discriminator_learns_to_tell_teacher_forced_from_free_running_states(model):
    """Repeated steps on one batch with the model fixed: the discriminator's loss falls and it ends up right."""
    torch.manual_seed(0)
    disc = BehaviourDiscriminator(16, size=8)
    opt = torch.optim.Adam(disc.parameters(), lr=0.02)
    batch = make_batch([12, 2_026, 7, 45, 300, 81])
    logs = []
    for _ in range(60):
        logs.append({})
        professor_forcing_loss(model, disc, opt, batch, log=logs[-1])
    assert logs[-1]["discriminator_loss"] < 0.5 * logs[0]["discriminator_loss"]
    assert logs[-1]["discriminator_accuracy"] == 1.0


def test_results_table_and_discriminator_accuracy_on_a_hand_made_run():
    metrics = {"exact_match": 0.25, "token_accuracy": 0.5, "teacher_forced_accuracy": 0.75}
    log = [{"discriminator_accuracy": i / 20} for i in range(20)]
    recovery = {"uniform": 0.3, "plausible": 0.2, "clean": 0.9}
    run = RegimeRun(Regime("pf", "professor", adversarial_weight=1.0), 3, None, History(),
                    {10: {"test": metrics}, 20: {"test": metrics}}, 7.0, recovery, log)
    assert discriminator_accuracy(run) == pytest.approx(sum(range(10, 20)) / 200)  # the last 10 steps
    assert discriminator_accuracy(run, step=5) == pytest.approx(sum(range(5)) / 100)  # steps 1-5: fewer than 10
    assert discriminator_accuracy(run, step=12, window=2) == pytest.approx((10 + 11) / 40)  # steps 11 and 12
    for step, window in ((0, 10), (21, 10), (5, 0)):
        with pytest.raises(ValueError, match="step"):
            discriminator_accuracy(run, step=step, window=window)
    first, last = results_table([run])
    assert first == {"regime": "pf", "seed": 3, "step": 10, "train_seconds": 7.0, "test_exact_match": 0.25,
                     "test_token_accuracy": 0.5, "test_teacher_forced_accuracy": 0.75}
    assert last == {**first, "step": 20, "recovered_uniform": 0.3, "recovered_plausible": 0.2, "clean": 0.9,
                    "discriminator_accuracy": discriminator_accuracy(run)}


@pytest.mark.parametrize("field", ["embed", "hidden", "batch_size", "steps", "eval_every", "lr"])
def test_experiment_config_refuses_a_zero_size_budget_or_rate(field):
    with pytest.raises(ValueError, match="positive"):
        ExperimentConfig(**{field: 0})
    ExperimentConfig(**{field: 1}, **({"eval_every": 1} if field == "steps" else {}))  # 1 is allowed


def test_discriminator_reads_time_along_dim_1_and_each_sequence_alone():
    """(batch, steps, hidden): a sequence's logit does not depend on its batch mates, and it does depend on its
    last real step."""
    torch.manual_seed(0)
    disc = BehaviourDiscriminator(4, size=8)
    states = torch.randn(3, 5, 4)
    lengths = torch.tensor([3, 5, 2])
    together = disc(states, lengths)
    alone = torch.stack([disc(states[i : i + 1], lengths[i : i + 1])[0] for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-6)
    changed = states.clone()
    changed[0, 2] += 1.0  # the first sequence's last real step
    assert not torch.allclose(disc(changed, lengths)[0], together[0])


def test_train_regime_wires_its_budget_schedules_and_clock(monkeypatch):
    """Adam at config.lr falling linearly for the model, constant for the discriminator; the adversarial weight
    enters the loss at full strength from the first step; a scheduled regime's coin follows its step;
    clip_norm reaches the loop; train_seconds excludes the evaluations (a fake clock ticking 1 per call);
    the run returns the trained model and discriminator."""
    from types import SimpleNamespace

    from lecture_utils.models import seq2seq_training

    rates = {}

    class RecordingAdam(torch.optim.Adam):
        def step(self, closure=None):
            rates.setdefault(id(self), []).append(self.param_groups[0]["lr"])
            return super().step(closure)

    fit_kwargs = {}
    real_fit = seq2seq_training.fit

    def recording_fit(*args, **kwargs):
        fit_kwargs.update(kwargs)
        return real_fit(*args, **kwargs)

    clock = iter(range(10, 10_000))
    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    monkeypatch.setattr(seq2seq_training, "fit", recording_fit)
    monkeypatch.setattr(seq2seq_training, "time", SimpleNamespace(process_time=lambda: next(clock)))
    splits = make_splits(200, 1, 40, 20, seed=0)
    config = ExperimentConfig(embed=8, hidden=16, steps=20, eval_every=10, lr=0.01, final_lr_fraction=0.5,
                              clip_norm=0.7)
    pf = train_regime(Regime("pf", "professor", adversarial_weight=0.4), splits.train, {"test": splits.test},
                      config, seed=0, progress=False)
    disc_rates, model_rates = rates.values()  # the discriminator steps first, inside the loss
    assert model_rates == pytest.approx([0.01 * (1 - 0.5 * s / 20) for s in range(20)])
    assert disc_rates == pytest.approx([0.01] * 20)
    losses = pf.history.series("loss")
    assert losses == pytest.approx([e["cross_entropy"] + 0.4 * e["fool_loss"] for e in pf.discriminator_log], abs=1e-5)
    assert fit_kwargs["clip_norm"] == 0.7
    assert pf.train_seconds == 5 - 2  # clock 10 at the start, 15 at the end; two evaluations of 1 tick each
    assert pf.model.tgt_embed.embedding_dim == 8 and isinstance(pf.discriminator, BehaviourDiscriminator)
    assert evaluate(pf.model, splits.test)["exact_match"] == pf.checkpoints[20]["test"]["exact_match"]
    probs = []
    scheduled = Regime("ss", "scheduled", decay_k=3.0)
    train_regime(scheduled, splits.train, {"test": splits.test}, config, seed=0, progress=False,
                 loss_fn=lambda m, b, p, c, g: (probs.append(p), package_loss(m, b, p, c, g))[1])
    assert probs == [scheduled.teacher_prob_at(s) for s in range(20)]


def test_digit_places_count_from_the_right_and_padding_gets_0():
    assert digit_places(torch.tensor([4, 2, 1]), 4).tolist() == [[3, 2, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


def test_both_encoder_directions_reach_the_decoders_first_state(model):
    """With the backward direction silenced (zero weights: its state stays 0), the first decoder state still
    depends on the number, through the forward direction's final state."""
    batch = make_batch([12, 2_026, 7])
    with torch.no_grad():
        for name, p in model.encoder.named_parameters():
            if name.endswith("_reverse"):
                p.zero_()
        h0 = model.encode(batch.src, batch.src_lengths)[2]  # (3, hidden)
    assert (h0[0] - h0[1]).abs().max() > 1e-3 and (h0[1] - h0[2]).abs().max() > 1e-3


def test_extra_padding_columns_change_nothing_but_the_memory_width(model):
    batch = make_batch([12, 2_026, 7])
    wide = torch.nn.functional.pad(batch.src, (0, 2), value=PAD)  # two more all-padding columns
    model.eval()
    with torch.no_grad():
        narrow_out = model(batch.src, batch.src_lengths, batch.tgt)
        wide_out = model(wide, batch.src_lengths, batch.tgt)
        memory, mask, _ = model.encode(wide, batch.src_lengths)
    assert memory.shape[1] == mask.shape[1] == batch.src.shape[1] + 2
    assert torch.allclose(narrow_out.logits, wide_out.logits, atol=1e-6)


def test_injection_beyond_the_sentence_is_teacher_forcing_and_before_it_is_free_running(model):
    """Position past the last word: every step reads the true previous word; position -1: the decoder reads only
    its own predictions (after <sos>). Both must match the model's own forward pass."""
    batch = make_batch([12, 2_026, 7, 45])
    model.eval()
    n = len(batch)
    with torch.no_grad():
        forced = decode_after_injection(model, batch.src, batch.src_lengths, batch.tgt, torch.full((n,), 99), None)
        free = decode_after_injection(model, batch.src, batch.src_lengths, batch.tgt, torch.full((n,), -1), None)
        assert torch.equal(forced, model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0).tokens)
        assert torch.equal(free, model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0).tokens)


def test_sampled_words_follow_the_softmax_at_the_temperature():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1, 0.0]])).expand(20_000, 4)  # the last word: probability 0
    gen = torch.Generator().manual_seed(0)
    shares = torch.bincount(sample_words(logits, 1.0, gen), minlength=4).float() / 20_000
    assert torch.allclose(shares, torch.tensor([0.7, 0.2, 0.1, 0.0]), atol=0.015)
    hot = torch.bincount(sample_words(logits, 2.0, gen), minlength=4).float() / 20_000
    expected = torch.tensor([0.7, 0.2, 0.1, 0.0]).sqrt()  # p^(1/T), renormalised
    assert torch.allclose(hot, expected / expected.sum(), atol=0.015)
    cold = sample_words(logits, 0.01, gen)
    assert bool((cold == 0).all())  # near 0 the sample is the argmax
    again = sample_words(logits[:50], 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(again, sample_words(logits[:50], 1.0, torch.Generator().manual_seed(5)))
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            sample_words(logits, bad, gen)


def test_free_running_reads_sampled_words_with_a_temperature_and_records_its_inputs():
    batch = make_batch([2_026, 123_456])
    script = torch.full((2, batch.tgt.shape[1]), 7)
    fake = RecordingSeq2Seq(script)  # puts nearly all mass on word 7 (logit 5 against -5)
    out = fake(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0)
    assert torch.equal(out.inputs, torch.stack(fake.fed, 1)) and bool((out.inputs[:, 1:] == 7).all())
    hot = fake(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0, temperature=100.0,
               generator=torch.Generator().manual_seed(0))
    assert torch.equal(hot.inputs, torch.stack(fake.fed, 1))
    assert bool((hot.inputs[:, 0] == SOS).all()) and bool((hot.inputs[:, 1:] != 7).any())  # nearly uniform
    assert bool((hot.tokens == 7).all())  # the predicted words stay the argmax
    forced = fake(batch.src, batch.src_lengths, batch.tgt, teacher_prob=1.0, temperature=100.0,
                  generator=torch.Generator().manual_seed(0))
    assert torch.equal(forced.inputs[:, 1:], batch.tgt[:, :-1])  # teacher forcing never reads a sample
    with pytest.raises(ValueError, match="temperature"):
        fake(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0, temperature=0.0)


def test_sampled_professor_forcing_judges_sampled_free_running_states(model):
    """The fooling term is computed on the states of a run that read sampled words (the same generator draws
    as the model's own sampled forward pass)."""
    torch.manual_seed(1)
    disc = BehaviourDiscriminator(16, size=8)
    frozen = torch.optim.SGD(disc.parameters(), lr=0.0)
    batch = make_batch([12, 2_026, 7, 45])
    lengths = (batch.tgt != PAD).sum(dim=1)
    free = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0, temperature=1.0,
                 generator=torch.Generator().manual_seed(3))
    argmax = model(batch.src, batch.src_lengths, batch.tgt, teacher_prob=0.0)
    assert not torch.equal(free.inputs, argmax.inputs)  # an untrained model samples other words than its argmax
    log = {}
    professor_forcing_loss(model, disc, frozen, batch, 1.0, log=log, temperature=1.0,
                           generator=torch.Generator().manual_seed(3))
    fool = torch.nn.functional.binary_cross_entropy_with_logits(disc(free.states, lengths), torch.ones(4))
    assert log["fool_loss"] == pytest.approx(fool.item(), abs=1e-6)
    fool_argmax = torch.nn.functional.binary_cross_entropy_with_logits(disc(argmax.states, lengths), torch.ones(4))
    assert abs(fool.item() - fool_argmax.item()) > 1e-4


def test_professor_forcing_at_weight_0_trains_the_model_exactly_as_teacher_forcing():
    splits = make_splits(400, 1, 40, 20, seed=0)
    config = ExperimentConfig(embed=8, hidden=16, steps=12, eval_every=12)
    sets = {"test": splits.test}
    teacher = train_regime(Regime("tf", "ratio", 1.0), splits.train, sets, config, seed=0, progress=False)
    watched = train_regime(Regime("pf0", "professor", adversarial_weight=0.0, temperature=1.0), splits.train, sets,
                           config, seed=0, progress=False)
    pushed = train_regime(Regime("pf", "professor", adversarial_weight=0.5, temperature=1.0), splits.train, sets,
                          config, seed=0, progress=False)
    for a, b in zip(teacher.model.parameters(), watched.model.parameters(), strict=True):
        assert torch.equal(a, b)  # the discriminator only watches
    assert len(watched.discriminator_log) == 12
    assert any(not torch.equal(a, b) for a, b in zip(teacher.model.parameters(), pushed.model.parameters(),
                                                         strict=True))


class StateEchoSeq2Seq(RecordingSeq2Seq):
    """Its state after a step is the one-hot code of the word it read; its logits put all mass on ``word``."""

    def __init__(self, script, word):
        super().__init__(script)
        self.word = word
        self.hidden = self.tgt_vocab

    def step(self, prev, h, feed, memory, mask):
        logits, _, feed, attn = super().step(prev, h, feed, memory, mask)
        logits = torch.full_like(logits, -50.0)
        logits[:, self.word] = 50.0
        return logits, torch.nn.functional.one_hot(prev, self.tgt_vocab).float(), feed, attn


def test_state_gap_measures_only_where_the_runs_read_other_words():
    """Hand-computed: a model that always samples word w. Position 0 reads <sos> in both runs (never apart);
    from position 1 on the runs are apart, and the one-hot states differ by sqrt(2) where the true previous word
    is not w, by 0 where it is."""
    numbers = [2_026, 45, 7]  # 4, 2 and 1 words: 5 + 3 + 2 = 10 real positions
    tgt = make_batch(numbers).tgt
    word = int(tgt[0, 1])  # "тысячи": the true previous word of 2026's position 2
    fake = StateEchoSeq2Seq(tgt.clone(), word)
    gap = state_gap(fake, numbers, temperature=1.0)
    assert gap["diverged"] == pytest.approx(7 / 10)  # 4 + 2 + 1 positions after the first
    assert gap["distance"] == pytest.approx(6 * 2**0.5 / 7, abs=1e-6)  # one of the 7 read w in both runs
    assert gap["position_count"].tolist() == [0, 3, 2, 1, 1]
    assert gap["position_distance"][2].item() == pytest.approx(2**0.5 / 2, abs=1e-6)
    truthful = StateEchoSeq2Seq(tgt.clone(), word)
    truthful.step = lambda prev, h, feed, memory, mask: RecordingSeq2Seq.step(truthful, prev, h, feed, memory, mask)
    assert state_gap(truthful, numbers, temperature=0.05)["diverged"] == 0.0  # samples the true words: never apart


def test_a_regime_takes_a_temperature_only_for_professor_forcing():
    assert Regime("pf", "professor", temperature=1.0).temperature == 1.0
    for kind, temperature in (("ratio", 1.0), ("professor", 0.0), ("professor", -1.0)):
        with pytest.raises(ValueError, match="temperature"):
            Regime("x", kind, temperature=temperature)
