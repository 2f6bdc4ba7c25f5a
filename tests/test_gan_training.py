"""The trainer: D loss falls on a toy set, a tiny end-to-end run with resume, the recipe CLI,
offline FID, and the checkpoint round trip / refusals."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from karyospectrum.checkpoints import card_path, save_checkpoint
from karyospectrum.errors import InputError
from karyospectrum.gan_training import (
    GANTrainer,
    latent_faithfulness,
    latent_pairs,
    resolve_config,
    similarity_error,
    train,
)
from karyospectrum.networks import define_G, generator_from_checkpoint, init_weights

torch.set_num_threads(2)


def toy_config(objective, **kw):
    return resolve_config(
        "cpu-small",
        {
            "objective": objective,
            "resolution": [16, 16],
            "ngf": 8,
            "ndf": 8,
            "latent_dim": 8,
            "batch_size": 16,
            **kw,
        },
    )


@pytest.mark.parametrize("objective", ["dcgan", "wgangp"])
def test_a_few_discriminator_steps_reduce_its_loss_on_a_toy_set(objective):
    tr = GANTrainer(toy_config(objective), "cpu")
    # Toy "real" set: bright red squares on blue; the untrained G paints grey noise.
    real = -torch.ones(16, 3, 16, 16)
    real[:, 0, 4:12, 4:12] = 1.0
    real[:, 2] = 0.5
    losses = [tr.d_step(real)["loss_d"] for _ in range(15)]
    assert np.mean(losses[-3:]) < losses[0] - 0.05, losses
    assert tr.d_step(real)["d_acc"] > 0.9


def test_generator_step_moves_the_generator():
    tr = GANTrainer(toy_config("dcgan"), "cpu")
    before = [p.detach().clone() for p in tr.G.parameters()]
    ema_before = [p.detach().clone() for p in tr.G_ema.parameters()]
    out = tr.g_step(16)
    assert np.isfinite(out["loss_g"])
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, tr.G_ema.parameters()))


def test_generator_learning_rate_ramps_up_over_its_warm_up_steps():
    tr = GANTrainer(toy_config("dcgan", lr_g_warmup_steps=4), "cpu")
    lr = tr.cfg["lr_g"]
    seen = []
    for _ in range(6):
        tr.g_step(16)
        seen.append(tr.opt_g.param_groups[0]["lr"])
        tr.step += 1
    assert seen == pytest.approx([lr / 4, lr / 2, 3 * lr / 4, lr, lr, lr])
    # Without a ramp the first step takes the full rate; a negative ramp is refused.
    plain = GANTrainer(toy_config("dcgan"), "cpu")
    plain.g_step(16)
    assert plain.opt_g.param_groups[0]["lr"] == lr
    with pytest.raises(InputError, match="lr_g_warmup_steps must be >= 0"):
        resolve_config("cpu-small", {"lr_g_warmup_steps": -2})


@pytest.mark.parametrize("warmup", [True, False])
def test_the_ema_warm_up_follows_the_first_steps_closely_and_without_it_the_full_decay_applies(warmup):
    tr = GANTrainer(toy_config("dcgan", ema=0.9, ema_warmup=warmup), "cpu")
    ema0 = [p.detach().clone() for p in tr.G_ema.parameters()]
    tr.g_step(16)
    beta = 0.1 if warmup else 0.9  # step 0: min(0.9, 1 / 10) with the warm-up
    for e0, e, p in zip(ema0, tr.G_ema.parameters(), tr.G.parameters()):
        assert torch.allclose(e, beta * e0 + (1 - beta) * p, atol=1e-6)
    with pytest.raises(InputError, match="ema_warmup must be true or false"):
        resolve_config("cpu-small", {"ema_warmup": 3})


def test_tiny_training_run_writes_everything_and_resumes(tmp_path):
    cfg = toy_config("wgangp", epochs=1, epoch_images=64, fid_samples=8, workers=1, n_critic=2)
    weights = tmp_path / "g.safetensors"
    card = train(cfg, weights, tmp_path / "g.train", "cpu", command="test", progress=False)
    for key in (
        "kind",
        "arch",
        "latent_dim",
        "resolution",
        "hyper_parameters",
        "training_data",
        "epochs",
        "metrics",
        "command",
    ):
        assert key in card
    assert card["kind"] == "generator" and card["resolution"] == [16, 16] and card["epochs"] == 1
    assert card["metrics"]["fid_samples"] == 8 and np.isfinite(card["metrics"]["fid"])
    assert json.loads(card_path(weights).read_text())["arch"] == "resizeconv"
    rows = [json.loads(line) for line in (tmp_path / "g.train/metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and {"loss_d", "loss_g", "d_acc", "fid", "images_per_s"} <= set(rows[0])
    assert (tmp_path / "g.train/samples/epoch_001.png").exists() and (
        tmp_path / "g.train/losses.png"
    ).exists()
    # Resume: one more epoch continues from the saved state (2 metric rows, step count grows).
    card2 = train({**cfg, "epochs": 2}, weights, tmp_path / "g.train", "cpu", command="test", progress=False)
    assert card2["epochs"] == 2 and card2["steps"] > card["steps"]
    assert len((tmp_path / "g.train/metrics.jsonl").read_text().splitlines()) == 2
    # A state from another recipe is refused, not silently mixed.
    with pytest.raises(InputError, match="another config"):
        train({**cfg, "epochs": 3, "lr_g": 1e-3}, weights, tmp_path / "g.train", "cpu", progress=False)


def test_discriminator_warm_up_holds_the_painter_then_both_train_and_it_resumes(tmp_path):
    # 64 images of 16 a batch: 4 D steps an epoch, all of the first epoch D-only.
    cfg = toy_config("dcgan", epochs=1, epoch_images=64, fid_samples=8, workers=1, d_warmup_steps=4)
    train(cfg, tmp_path / "g.safetensors", tmp_path / "g.train", "cpu", command="test", progress=False)
    state = torch.load(tmp_path / "g.train/state.pt", weights_only=False)
    fresh = GANTrainer(cfg, "cpu")
    assert state["step"] == 0 and state["d_steps"] == 4
    # Parameters (BatchNorm's running statistics follow the painter's batches, as they always do).
    g0, d0 = dict(fresh.G.named_parameters()), dict(fresh.D.named_parameters())
    assert all(torch.equal(v, state["G"][k]) for k, v in g0.items())  # the painter has not moved
    assert any(not torch.equal(v, state["D"][k]) for k, v in d0.items())  # D has
    card = train(
        {**cfg, "epochs": 2}, tmp_path / "g.safetensors", tmp_path / "g.train", "cpu", progress=False
    )
    state = torch.load(tmp_path / "g.train/state.pt", weights_only=False)
    assert card["steps"] == 4 and state["d_steps"] == 8  # after the warm-up, one G step per D step
    assert any(not torch.equal(v, state["G"][k]) for k, v in g0.items())
    assert card["hyper_parameters"]["d_warmup_steps"] == 4
    with pytest.raises(InputError, match="d_warmup_steps must be >= 0"):
        resolve_config("cpu-small", {"d_warmup_steps": -1})


def test_r1_penalty_is_the_squared_input_gradient_and_trains_lazily(tmp_path):
    from karyospectrum.networks import r1_penalty

    # D(x) = sum(w * x): its input gradient is w everywhere, so the penalty is gamma/2 * ||w||^2.
    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.full((1, 3, 4, 4), 0.5))

        def forward(self, x):
            return (x * self.w).flatten(1).sum(1)

    net = Linear()
    pen = r1_penalty(net, torch.randn(5, 3, 4, 4), gamma=2.0)
    assert pen.item() == pytest.approx(0.5 * 2.0 * 48 * 0.25)
    pen.backward()  # differentiable in D's weights: d/dw (||w||^2) = 2w
    assert torch.allclose(net.w.grad, torch.full_like(net.w, 1.0))
    # In the trainer: 4 D steps an epoch, R1 on every second one, both reported as the penalty.
    cfg = toy_config("dcgan", epochs=1, epoch_images=64, fid_samples=8, workers=1, r1_gamma=1.0, r1_every=2)
    cfg["d_norm"] = "none"
    trainer = GANTrainer(cfg, "cpu")
    real = torch.rand(16, 3, 16, 16) * 2 - 1
    penalties = []
    for _ in range(4):
        penalties.append(trainer.d_step(real)["gp"])
        trainer.d_steps += 1
    assert penalties[0] > 0 and penalties[2] > 0 and penalties[1] == 0 and penalties[3] == 0
    card = train(cfg, tmp_path / "g.safetensors", tmp_path / "g.train", "cpu", command="test", progress=False)
    assert card["hyper_parameters"]["r1_gamma"] == 1.0 and card["hyper_parameters"]["r1_every"] == 2
    with pytest.raises(InputError, match="r1_gamma must be >= 0"):
        resolve_config("cpu-small", {"r1_gamma": -1})
    with pytest.raises(InputError, match="r1_every must be"):
        resolve_config("cpu-small", {"r1_every": 0})


def test_recipe_overrides_and_dry_run(repo):
    cfg = resolve_config("gpu-full", {"objective": "dcgan", "resolution": "144x256", "epochs": 3})
    assert cfg["resolution"] == [144, 256] and cfg["gan_mode"] == "vanilla" and cfg["epochs"] == 3
    # snakemake --config hands nested values over as strings
    cfg = resolve_config(
        "cpu-small", {"epochs": "3", "resolution": ["144", "256"], "lr_g": "1e-3", "data": "x"}
    )
    assert (
        cfg["epochs"] == 3 and cfg["resolution"] == [144, 256] and cfg["lr_g"] == 1e-3 and cfg["data"] == "x"
    )
    with pytest.raises(InputError, match="unknown training option"):
        resolve_config("cpu-small", {"learning_rate": 1})
    with pytest.raises(InputError, match="unknown preset"):
        resolve_config("tpu-huge")
    out = subprocess.run(
        [
            sys.executable,
            str(repo / "scripts/train_generator.py"),
            "--preset",
            "cpu-small",
            "--set",
            "lr_g=0.0003",
            "--resolution",
            "144x256",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["lr_g"] == 0.0003 and shown["resolution"] == [144, 256] and shown["preset"] == "cpu-small"
    bad = subprocess.run(
        [sys.executable, str(repo / "scripts/train_generator.py"), "--set", "nope=1", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and "Traceback" not in bad.stderr


def test_offline_fid():
    from karyospectrum.fid import fid, frechet_distance, inception_path

    assert inception_path().name == "default_1.pt" and inception_path().stat().st_size > 50e6
    # Closed form for 1-d Gaussians: (m1-m2)^2 + s1 + s2 - 2 sqrt(s1 s2).
    assert frechet_distance((np.zeros(1), np.eye(1) * 4), (np.ones(1) * 3, np.eye(1))) == pytest.approx(
        9 + 4 + 1 - 4
    )
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (12, 32, 32, 3), dtype=np.uint8)
    b = np.full_like(a, 128)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-3)
    assert fid(a, b) > 50


def _save_generator(path, arch="resizeconv", latent_dim=8, resolution=(16, 16), ngf=4, kind="generator"):
    G = init_weights(define_G(arch, latent_dim, resolution, ngf)).eval()
    card = {
        "kind": kind,
        "arch": arch,
        "latent_dim": latent_dim,
        "resolution": list(resolution),
        "generator": {"ngf": ngf, "norm": "batch"},
    }
    save_checkpoint(path, G.state_dict(), card, half=True)
    return G


def test_checkpoint_round_trip(tmp_path):
    G = _save_generator(tmp_path / "g.safetensors")
    G2, card = generator_from_checkpoint(tmp_path / "g.safetensors")
    assert card["latent_dim"] == 8
    for (k, a), (_, b) in zip(G.state_dict().items(), G2.state_dict().items()):
        if a.is_floating_point():
            assert torch.equal(a.half().float(), b), k  # exactly the fp16 weights
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.allclose(G(z), G2(z), atol=2e-2)


def test_wrong_or_corrupt_checkpoints_are_refused(tmp_path):
    _save_generator(tmp_path / "cls.safetensors", kind="classifier")
    with pytest.raises(InputError, match="expected a generator"):
        generator_from_checkpoint(tmp_path / "cls.safetensors")
    _save_generator(tmp_path / "g.safetensors")
    card = json.loads((tmp_path / "g.json").read_text())
    (tmp_path / "g.json").write_text(json.dumps({**card, "generator": {"ngf": 8, "norm": "batch"}}))
    with pytest.raises(InputError, match="do not fit"):
        generator_from_checkpoint(tmp_path / "g.safetensors")
    (tmp_path / "g.json").write_text(json.dumps({**card, "arch": "unet256"}))
    with pytest.raises(InputError, match="unknown generator architecture"):
        generator_from_checkpoint(tmp_path / "g.safetensors")
    (tmp_path / "g.json").write_text(json.dumps(card))
    data = (tmp_path / "g.safetensors").read_bytes()
    (tmp_path / "g.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt"):
        generator_from_checkpoint(tmp_path / "g.safetensors")
    with pytest.raises(InputError, match="not found"):
        generator_from_checkpoint(tmp_path / "missing.safetensors")


class _Linear(torch.nn.Module):
    """A generator whose pictures are a fixed linear map of the latent: perfectly faithful."""

    def __init__(self, dim=64, side=16):
        super().__init__()
        self.latent_dim, self.side = dim, side
        self.w = torch.nn.Linear(dim, 3 * side * side, bias=False)

    def forward(self, z):
        return self.w(z).view(-1, 3, self.side, self.side)


def test_latent_faithfulness_tells_a_faithful_generator_from_a_deaf_one():
    torch.manual_seed(0)
    faithful = latent_faithfulness(_Linear())
    assert faithful["similarity_correlation"] > 0.9
    assert faithful["similarity_rms_gap"] < 0.2
    # A generator that ignores most of the latent: strangers' pictures resemble as much as relatives'.
    deaf = _Linear()
    with torch.no_grad():
        deaf.w.weight[:, 1:] = 0
    measured = latent_faithfulness(deaf)
    assert measured["similarity_rms_gap"] > 0.4


def test_similarity_mode_mean_asks_only_for_the_mean_gap():
    # Pictures that use 4 latent dimensions: pairs resemble as their latents do on average, with a wide
    # spread (as two random wallpaper crops do). "pair" punishes the spread, "mean" only the mean gap.
    torch.manual_seed(0)
    noisy = _Linear()
    with torch.no_grad():
        noisy.w.weight[:, 4:] = 0
    measured = latent_faithfulness(noisy, n=512)
    assert measured["similarity_rms_gap"] > 0.3
    assert measured["similarity_bias"] < 0.15
    z1, z2 = latent_pairs(1024, 64, torch.Generator().manual_seed(1), shared=2)
    same_rho = torch.nn.functional.cosine_similarity(z1, z2, dim=1).view(-1, 2)
    assert (same_rho[:, 0] - same_rho[:, 1]).abs().mean() < 0.2  # pairs 2k, 2k+1 share a rho
    with torch.no_grad():
        pair = float(similarity_error(noisy, z1, z2, None, "cpu", "pair"))
        mean = float(similarity_error(noisy, z1, z2, None, "cpu", "mean"))
        faithful = float(similarity_error(_Linear(), z1, z2, None, "cpu", "pair"))
    assert pair > 0.08 and abs(mean) < 0.25 * pair
    assert faithful < 0.25 * pair
    # Pictures that ignore the latent (strangers as alike as twins): a large mean gap in both modes.
    deaf = _Linear()
    with torch.no_grad():
        deaf.w.weight.zero_()
        assert float(similarity_error(deaf, z1, z2, None, "cpu", "mean")) > 0.2
    cfg = toy_config("dcgan", similarity_lambda=5.0, similarity_mode="mean")
    assert "loss_similarity" in GANTrainer(cfg, "cpu").g_step(16)
    with pytest.raises(InputError, match="unknown similarity_mode 'spread'.*pair, mean"):
        toy_config("dcgan", similarity_mode="spread")


def test_similarity_loss_trains_image_similarity_to_follow_the_latents():
    cfg = toy_config("dcgan", similarity_lambda=5.0, similarity_pairs=16)
    tr = GANTrainer(cfg, "cpu")

    def pairs(seed, n=32):
        gen = torch.Generator().manual_seed(seed)
        return *latent_pairs(n, 8, gen), gen

    def held_out_error():
        with torch.no_grad():
            return float(similarity_error(tr.G, *pairs(123), "cpu"))

    before = held_out_error()
    opt = torch.optim.Adam(tr.G.parameters(), lr=1e-2)
    for step in range(60):
        loss = similarity_error(tr.G, *pairs(step), "cpu")
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert held_out_error() < 0.5 * before
    stats = tr.g_step(16)
    assert stats["loss_similarity"] > 0


def test_a_run_can_start_from_trained_weights_and_records_them(tmp_path):
    cfg = toy_config("dcgan", epochs=1, epoch_images=32, fid_samples=8, workers=1)
    first = tmp_path / "first.safetensors"
    card1 = train(cfg, first, tmp_path / "first.train", "cpu", command="test", progress=False)
    tr = GANTrainer({**cfg, "init_from": str(first)}, "cpu")
    G1, _ = generator_from_checkpoint(first)
    for (k, a), b in zip(G1.state_dict().items(), tr.G.state_dict().values()):
        assert torch.equal(a, b), k  # G (and its EMA) start exactly at the saved weights
    assert all(torch.equal(a, b) for a, b in zip(tr.G.parameters(), tr.G_ema.parameters()))
    card2 = train(
        {**cfg, "init_from": str(first)},
        tmp_path / "second.safetensors",
        tmp_path / "second.train",
        "cpu",
        command="test",
        progress=False,
    )
    assert card2["init"]["from"] == "first.safetensors" and card2["init"]["steps"] == card1["steps"]
    # Resumed with more epochs while init_from holds the run's own result (the bundled model trained on
    # in place): the card keeps what the run really started from, not its own earlier self.
    second = tmp_path / "second.safetensors"
    (tmp_path / "first.json").write_text(card_path(second).read_text())
    shutil.copy(second, first)

    def resume(epochs, **changed):
        run = {**cfg, "epochs": epochs, "init_from": str(first), **changed}
        return train(run, second, tmp_path / "second.train", "cpu", progress=False)

    card3 = resume(2)
    assert card3["steps"] > card2["steps"] and card3["init"] == card2["init"]
    # A state saved before a recipe key existed resumes when the key is at its default.
    state = torch.load(tmp_path / "second.train/state.pt", weights_only=False)
    del state["config"]["similarity_mode"], state["init_info"]
    torch.save(state, tmp_path / "second.train/state.pt")
    card4 = resume(3)
    assert card4["steps"] > card3["steps"]
    # A long run may raise its faithfulness weight on resume (the card keeps the last); other recipe keys stay.
    card5 = resume(4, similarity_lambda=7.5)
    assert card5["steps"] > card4["steps"] and card5["hyper_parameters"]["similarity_lambda"] == 7.5
    with pytest.raises(InputError, match=r"differs in: lr_d\)"):
        resume(5, similarity_lambda=7.5, lr_d=1e-3)
    # Another shape or arch is refused in one line, never half-loaded.
    with pytest.raises(InputError, match="do not fit"):
        GANTrainer({**cfg, "ngf": 4, "init_from": str(first)}, "cpu")
    with pytest.raises(InputError, match="architecture is 'resizeconv'"):
        GANTrainer({**toy_config("dcgan", arch="dcgan"), "init_from": str(first)}, "cpu")
    with pytest.raises(InputError, match="not found"):
        GANTrainer({**cfg, "init_from": str(tmp_path / "missing.safetensors")}, "cpu")


def test_a_narrower_painter_is_widened_and_paints_the_same_pictures(tmp_path):
    # Net2WiderNet: cpu-cips -> a wider recipe starts exactly where the narrow one stopped.
    narrow = toy_config("dcgan", arch="cips", ngf=4, g_options={"hidden": 8, "mlp_layers": 2, "n_freq": 8})
    narrow = {**narrow, "epochs": 1, "epoch_images": 32, "fid_samples": 8, "workers": 1}
    first = tmp_path / "narrow.safetensors"
    train(narrow, first, tmp_path / "narrow.train", "cpu", command="test", progress=False)
    wide = {**narrow, "ngf": 6, "g_options": {**narrow["g_options"], "hidden": 16}, "init_from": str(first)}
    tr = GANTrainer(wide, "cpu")
    assert tr.init_info["widened_from"]["hidden"] == 8
    G1, _ = generator_from_checkpoint(first)
    assert tr.G.mlp[0].weight.shape[0] == 16 and tr.G.up[-1].weight.shape[0] == 6
    z, off = torch.randn(6, 8), torch.rand(6, 2)
    for mode in ("eval", "train"):  # running statistics and batch statistics alike
        G1.train(mode == "train"), tr.G.train(mode == "train")
        with torch.no_grad():
            assert torch.allclose(G1(z, offset=off), tr.G(z, offset=off), atol=1e-5), mode
    # The copies are split in unequal shares, so their gradients differ and they learn apart.
    tr.G.train()
    tr.G(z, offset=off).square().mean().backward()
    grad = tr.G.mlp[0].weight.grad.flatten(1)
    assert all(not torch.allclose(grad[j], grad[k]) for j in range(16) for k in range(j + 1, 16))
    # A painter without noise inputs loads into one with them (at zero strength): the same pictures.
    noisy = GANTrainer({**wide, "g_options": {**wide["g_options"], "noise": True}}, "cpu")
    assert [float(p.detach().abs().sum()) for p in noisy.G.noise] == [0.0, 0.0]
    G1, _ = generator_from_checkpoint(first)  # afresh: the train-mode passes above moved its statistics
    noisy.G.eval()
    with torch.no_grad():
        assert torch.allclose(G1(z, offset=off), noisy.G(z, offset=off), atol=1e-5)
    # Narrower than the weights, or another depth: refused in one line.
    with pytest.raises(InputError, match="cannot be widened"):
        GANTrainer({**wide, "g_options": {**narrow["g_options"], "hidden": 4}}, "cpu")
    with pytest.raises(InputError, match="do not fit|cannot be widened"):
        GANTrainer({**wide, "g_options": {**wide["g_options"], "mlp_layers": 3}}, "cpu")


def test_held_out_features_are_cached_per_dataset_build(tmp_path, monkeypatch):
    # A dataset rebuilt at the same path with other options must not reuse the old build's features.
    import karyospectrum.fid as fid
    from karyospectrum.artdata import StyleDatasetOptions, build_style_dataset
    from karyospectrum.gan_training import TrainingData

    calls = []

    def fake_features(images, device="cpu", batch_size=50):
        calls.append(len(images))
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return np.tile(flat, (1, -(-2048 // flat.shape[1])))[:, :2048]

    monkeypatch.setattr(fid, "inception_features", fake_features)
    data = tmp_path / "ds"
    build_style_dataset("t", "procedural", data, "", StyleDatasetOptions(16, 8, 6))
    cfg = toy_config("dcgan", data=str(data))
    first = TrainingData(cfg, tmp_path).reference(6, "cpu")
    assert calls == [6] and np.array_equal(TrainingData(cfg, tmp_path).reference(6, "cpu"), first)
    assert calls == [6]  # cached
    build_style_dataset("t", "procedural", data, "", StyleDatasetOptions(16, 8, 6, seed=1))
    again = TrainingData(cfg, tmp_path).reference(6, "cpu")
    assert calls == [6, 6] and not np.array_equal(again, first)


def test_preloaded_train_split_and_a_run_trained_without_fid_is_measured_on_resume(tmp_path, monkeypatch):
    # gpu-cips-wide holds the train split on the device; a run made where there is no Inception
    # (fid_samples 0) is measured by resuming it elsewhere: no new epoch, only the FID.
    import karyospectrum.fid as fid
    from karyospectrum.artdata import StyleDatasetOptions, build_style_dataset
    from karyospectrum.gan_training import TrainingData

    def fake_features(images, device="cpu", batch_size=50):
        x = np.asarray(images, np.float64).reshape(len(images), -1)
        return np.tile(x, (1, -(-2048 // x.shape[1])))[:, :2048] + np.random.default_rng(0).normal(
            size=(len(x), 2048)
        )

    monkeypatch.setattr(fid, "inception_features", fake_features)
    data = tmp_path / "ds"
    build_style_dataset("t", "procedural", data, "", StyleDatasetOptions(16, 40, 8))
    cfg = toy_config("dcgan", data=str(data), preload=True, epochs=1, epoch_images=32, fid_samples=0)
    td = TrainingData(cfg, tmp_path)
    tr = GANTrainer(cfg, "cpu")
    held = td.preloaded(tr.device)
    assert held.shape == (40, 16, 16, 3) and held.dtype == torch.uint8
    assert np.array_equal(held[7].numpy(), td.train[7])  # the same crops as streamed from disk
    batches = list(td.batches(tr))
    assert len(batches) == 2 and batches[0].shape == (16, 3, 16, 16)
    assert -1 <= batches[0].min() and batches[0].max() <= 1

    weights, run = tmp_path / "g.safetensors", tmp_path / "g.train"
    card = train(cfg, weights, run, "cpu", progress=False)
    m = card["metrics"]
    assert m["fid"] is None and m["fid_samples"] == 0 and np.isfinite(m["path_length"])
    assert card["trained_on"] == {"cpu": pytest.approx(card["training_seconds"], abs=0.1)}
    again = train({**cfg, "fid_samples": 8, "preload": False}, weights, run, "cpu", progress=False)
    assert again["steps"] == card["steps"] and again["epochs"] == 1  # nothing trained again
    assert again["metrics"]["fid_samples"] == 8 and np.isfinite(again["metrics"]["fid"])
    rows = (run / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["fid_samples"] == 8
    # Measured once: a third run changes nothing.
    third = train({**cfg, "fid_samples": 8}, weights, run, "cpu", progress=False)
    assert third["metrics"]["fid"] == again["metrics"]["fid"]
