"""The planner's token loop against a plain ``model.generate`` with the same settings, side by side.

    python benchmarks/lm_planner.py                      # tiny LM on CPU, 150 codes (30 s), 5 rounds
    python benchmarks/lm_planner.py --lm lm-1.7B --device cuda --seconds 120 --rounds 3

Both write the codes phase of a plan: the same prompt, the same ``ProgramProcessor`` (exactly N audio codes),
temperature 0.85 and top-p 0.9, no CFG (``generate`` has no two-row guidance that shares sampled tokens), a KV
cache, N new tokens. Rounds alternate (ours, generate, ours, ...) so machine load hits both alike; the medians
give tokens/s and the ratio ours/generate (the target is >= 0.95). With ``--cfg`` it also times our CFG loop
(two rows) to show what guidance costs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", default="lm-tiny")
    parser.add_argument("--device", default=None)
    parser.add_argument("--seconds", type=int, default=30, help="plan length: 5 codes per second")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cfg", action="store_true", help="also time our loop with LM CFG 2.5")
    args = parser.parse_args()

    import torch

    from workbench.planner import prompts
    from workbench.planner.constraints import Codes, ProgramProcessor
    from workbench.planner.decoding import Sampling, decode, left_pad
    from workbench.planner.loading import load_lm

    torch.set_num_threads(1)
    lm = load_lm(args.lm, device=args.device)
    count = args.seconds * 5
    cot = prompts.cot_text(
        {"bpm": "92", "duration": str(args.seconds), "keyscale": "C major", "timesignature": "4"}
    )
    prompt = prompts.render(
        lm.tokenizer, prompts.codes_messages("calm piano, soft strings", "[Instrumental]", cot)
    )
    sampling = Sampling(cfg_scale=1.0)

    def ours(cfg: float = 1.0) -> float:
        negative = prompts.render(
            lm.tokenizer, prompts.codes_negative_messages("calm piano", "[Instrumental]", "NO USER INPUT")
        )
        processor = ProgramProcessor((Codes(count),), lm.vocab)
        started = time.perf_counter()
        tokens = decode(
            lm.model, lm.tokenizer, prompt, negative if cfg > 1 else None, processor,
            Sampling(cfg_scale=cfg), 0, count + 1,
        )  # fmt: skip
        _sync()
        elapsed = time.perf_counter() - started
        if len(tokens) != count:
            raise SystemExit(f"ours wrote {len(tokens)} tokens, not {count}")
        return elapsed

    def plain() -> float:
        ids, mask = left_pad(lm.tokenizer, [prompt], lm.info.device)
        processor = ProgramProcessor((Codes(count),), lm.vocab)
        started = time.perf_counter()
        out = lm.model.generate(
            input_ids=ids, attention_mask=mask, logits_processor=[processor], do_sample=True,
            temperature=sampling.temperature, top_p=sampling.top_p, top_k=0, max_new_tokens=count,
            min_new_tokens=count, use_cache=True, pad_token_id=lm.tokenizer.pad_token_id,
        )  # fmt: skip
        _sync()
        elapsed = time.perf_counter() - started
        if out.shape[-1] - ids.shape[-1] != count:
            raise SystemExit("generate wrote a different number of tokens")
        return elapsed

    def _sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    ours(), plain()  # warm-up
    times: dict[str, list[float]] = {"ours": [], "generate": [], "ours_cfg": []}
    for _ in range(args.rounds):
        times["ours"].append(ours())
        times["generate"].append(plain())
        if args.cfg:
            times["ours_cfg"].append(ours(2.5))
    print(f"# {args.lm} on {lm.info.device} ({lm.info.dtype}), {platform.processor() or platform.machine()}")
    print(f"# {count} codes ({args.seconds} s plan), {args.rounds} rounds, medians")
    for name, values in times.items():
        if values:
            med = statistics.median(values)
            print(f"{name:<10} {med:8.3f} s   {count / med:9.1f} tokens/s")
    ratio = statistics.median(times["generate"]) / statistics.median(times["ours"])
    print(f"ratio ours/generate (speed): {ratio:.3f}x   target >= 0.95")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
