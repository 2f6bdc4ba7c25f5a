"""Generators and discriminators: shapes for every preset and aspect, the reference architecture,
no BatchNorm in the WGAN-GP critic, losses and the gradient penalty."""

import pytest
import torch
from karyospectrum.errors import InputError
from karyospectrum.gan_training import PRESETS, resolve_config
from karyospectrum.networks import (
    GANLoss,
    KerasReferenceDiscriminator,
    KerasReferenceGenerator,
    base_grid,
    define_D,
    define_G,
    gradient_penalty,
)
from torch import nn

torch.set_num_threads(2)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_and_has_the_right_shapes(preset):
    cfg = resolve_config(preset)
    G = define_G(cfg["arch"], cfg["latent_dim"], cfg["resolution"], cfg["ngf"], cfg["g_norm"]).eval()
    D = define_D(cfg["arch"], cfg["resolution"], cfg["ndf"], cfg["d_norm"]).eval()
    with torch.no_grad():
        x = G(torch.randn(2, cfg["latent_dim"]))
        assert tuple(x.shape) == (2, 3, *cfg["resolution"])
        assert x.min() >= -1 and x.max() <= 1
        assert tuple(D(x).shape) == (2,)


@pytest.mark.parametrize("arch", ["dcgan", "resizeconv"])
@pytest.mark.parametrize(
    "res", [(64, 64), (128, 128), (256, 256), (512, 512), (144, 256), (256, 144), (72, 128)]
)
def test_aspects_and_resolutions(arch, res):
    G = define_G(arch, 16, res, ngf=4).eval()
    D = define_D(arch, res, ndf=4, norm="layer").eval()
    with torch.no_grad():
        x = G(torch.randn(1, 16))
    assert tuple(x.shape) == (1, 3, *res)
    assert D(x).shape == (1,)


def test_16x9_keeps_its_aspect_from_the_first_layer_with_square_kernels():
    # The blurred 16:9 of the dental project came from stretched kernels/resampling; ours start at 9x16.
    assert base_grid((144, 256)) == (9, 16, 4)
    assert base_grid((288, 512)) == (9, 16, 5)
    assert base_grid((64, 64)) == (4, 4, 4)
    G = define_G("resizeconv", 16, (144, 256), ngf=4)
    convs = [m for m in G.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(m.kernel_size[0] == m.kernel_size[1] for m in convs)
    assert not any(isinstance(m, nn.Upsample) and m.mode != "nearest" for m in G.modules())


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError):
        base_grid((6, 6))
    with pytest.raises(InputError):
        resolve_config("cpu-small", {"resolution": [100, 7]})


def test_keras_reference_matches_the_original_weights():
    G = KerasReferenceGenerator(latent_dim=400)
    dense = G.fc[0]
    assert dense.weight.numel() + dense.bias.numel() == 39_419_904  # (400 + 1) * 64 * 64 * 24
    convs = [m for m in G.body if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in convs] == [12, 6, 3, 3]
    assert all(m.kernel_size == (5, 5) for m in convs)
    D = KerasReferenceDiscriminator()
    conv1 = D.main[0]
    assert (conv1.out_channels, conv1.kernel_size, conv1.stride) == (32, (5, 5), (2, 2))
    with torch.no_grad():
        assert tuple(conv1(torch.zeros(1, 3, 256, 256)).shape[-2:]) == (128, 128)


def test_wgangp_critic_has_no_batchnorm():
    for preset in PRESETS:
        cfg = resolve_config(preset, {"objective": "wgangp"})
        if cfg["arch"] == "keras-reference":
            continue
        D = define_D(cfg["arch"], cfg["resolution"], cfg["ndf"], cfg["d_norm"])
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()), preset
    with pytest.raises(InputError, match="BatchNorm"):
        resolve_config("cpu-small", {"objective": "wgangp", "d_norm": "batch"})
    dc = resolve_config("cpu-small", {"objective": "dcgan"})
    assert dc["lr_g"] == 2e-4 and dc["betas"] == [0.5, 0.999] and dc["n_critic"] == 1
    wg = resolve_config("gpu-full")
    assert (
        wg["n_critic"] == 5 and wg["gp_lambda"] == 10.0 and wg["betas"] == [0.0, 0.9] and wg["lr_g"] == 1e-4
    )


def test_gan_losses():
    pred = torch.tensor([2.0, -1.0])
    assert GANLoss("wgangp")(pred, True).item() == pytest.approx(-0.5)
    assert GANLoss("wgangp")(pred, False).item() == pytest.approx(0.5)
    bce = GANLoss("vanilla")
    assert bce(torch.tensor([10.0]), True).item() < 1e-3 < bce(torch.tensor([10.0]), False).item()
    with pytest.raises(ValueError):
        GANLoss("hinge-ish")


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic():
    lin = nn.Linear(12, 1, bias=False)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[0, 0] = 1.0  # ||grad|| == 1 everywhere
    critic = nn.Sequential(nn.Flatten(), lin)
    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        lin.weight[0, 0] = 3.0
    assert gradient_penalty(critic, real, fake, 10.0).item() == pytest.approx(40.0)


def _cips(**kw):
    from karyospectrum.networks import init_weights

    torch.manual_seed(0)
    return init_weights(define_G("cips", 16, (32, 32), ngf=4, hidden=16, n_freq=16, **kw)).post_init().eval()


@pytest.mark.parametrize("size", [(32, 32), (600, 56), (90, 160), (37, 13)])
def test_coordinate_generator_paints_any_size_and_aspect(size):
    G = _cips()
    with torch.no_grad():
        x = G(torch.randn(2, 16), size=size)
    assert tuple(x.shape) == (2, 3, *size) and x.min() >= -1 and x.max() <= 1


def test_a_larger_canvas_is_a_larger_window_of_the_same_painting():
    # No stretching: the 32 px painting is the centre of the 64 px one (away from the conv borders).
    G = _cips()
    z = torch.randn(2, 16)
    with torch.no_grad():
        small, big = G(z, size=(32, 32)), G(z, size=(64, 96))
    assert torch.allclose(small[:, :, 6:26, 6:26], big[:, :, 22:42, 38:58], atol=1e-5)
    assert not torch.allclose(small[0], small[1])  # and each latent paints its own picture


def test_training_windows_sit_at_random_offsets_of_an_unbounded_canvas():
    G = _cips().train()
    z = torch.randn(1, 16).expand(4, 16)
    x = G(z)
    assert not torch.allclose(x[0], x[1])  # same latent, other window
    G.eval()
    with torch.no_grad():
        assert torch.equal(G(z)[0], G(z)[1])


@pytest.mark.parametrize("shape", [(2, 5, 7, 9), (1, 3, 1, 4)])
def test_upsample_conv_is_a_3x3_conv_of_the_nearest_upsampled_picture(shape):
    from karyospectrum.networks import upsample_conv

    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    w = torch.randn(6, shape[1], 3, 3, requires_grad=True)
    ref = nn.functional.conv2d(nn.functional.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
    got = upsample_conv(x, w)
    assert got.shape == ref.shape and torch.allclose(got, ref, atol=1e-5)
    # and it trains the same: the gradients agree too
    for a, b in zip(torch.autograd.grad(got.sum(), [x, w]), torch.autograd.grad(ref.sum(), [x, w])):
        assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(upsample_conv(x, w.flip(2)), ref, atol=1e-3)  # not symmetric by accident


def test_painting_uses_the_running_statistics_exactly_as_batchnorm_does():
    # The painter folds BatchNorm and the style's scale and shift into one per-sample affine map.
    G = _cips()
    with torch.no_grad():
        for norm in G.mlp_norm:
            norm.bn.running_mean.uniform_(-1, 1)
            norm.bn.running_var.uniform_(0.5, 2)
        z = torch.randn(3, 16)
        fast = G(z, size=(40, 24))
        for norm in G.mlp_norm:  # the textbook path: BatchNorm's own eval forward
            norm.forward = norm.textbook
        assert torch.allclose(fast, G(z, size=(40, 24)), atol=1e-5)


def test_diff_augment_is_differentiable_and_keeps_shapes():
    from karyospectrum.networks import diff_augment

    x = torch.rand(4, 3, 16, 24, requires_grad=True)
    y = diff_augment(x * 2 - 1)
    assert y.shape == x.shape and not torch.allclose(y, x * 2 - 1)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="DiffAugment"):
        diff_augment(x, "color,zoom")
    assert torch.equal(diff_augment(x, ""), x)


def test_spectral_norm_discriminator_is_about_1_lipschitz_per_layer():
    D = define_D("cips", (32, 32), ndf=8, norm="spectral").train()
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in D.modules())
    for _ in range(20):  # power iterations run in training forward passes
        D(torch.randn(2, 3, 32, 32))
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs
    for m in convs:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma < 1.1, sigma


def test_refined_discriminator_adds_one_same_size_3x3_conv_per_level_all_spectrally_normalised():
    plain = define_D("cips", (48, 48), ndf=8, norm="spectral")
    deep = define_D("cips", (48, 48), ndf=8, norm="spectral", refine=1).train()
    convs = [m for m in deep.modules() if isinstance(m, nn.Conv2d)]
    n_plain = sum(isinstance(m, nn.Conv2d) for m in plain.modules())
    assert len(convs) == 2 * n_plain  # 48 -> 24 -> 12 -> 6: three downsampling convs, three refining ones
    refining = [m for m in convs if m.kernel_size == (3, 3)]
    assert len(refining) == n_plain and all(
        m.stride == (1, 1) and m.in_channels == m.out_channels for m in refining
    )
    x = torch.randn(4, 3, 48, 48, requires_grad=True)
    for _ in range(20):  # power iterations run in training forward passes
        y = deep(x)
    assert y.shape == (4,)
    y.sum().backward()
    assert x.grad.abs().sum() > 0
    for m in convs:
        assert torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2) < 1.1


def test_coordinate_painter_keeps_its_fourier_phases_in_fp32_under_autocast(repo):
    # The CUDA trainer runs under bf16 autocast; far from the canvas origin the phases reach hundreds of
    # radians, which bf16 cannot hold: the painting must still be the fp32 one (bf16 convolutions aside).
    from karyospectrum.painting import load_generator

    G = load_generator(repo / "resources/models/generator-wallpaper.safetensors")[0].float().eval()
    z = torch.randn(8, G.latent_dim, generator=torch.Generator().manual_seed(0))
    far = torch.full((8, 2), 5.5)
    with torch.no_grad():
        ref = G(z, offset=far)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = G(z, offset=far).float()
            feats = torch.sin(G.coords(8, 12, 12, G.units_per_px, far) @ G.freq.t())  # the unguarded way
    exact = torch.sin(G.coords(8, 12, 12, G.units_per_px, far) @ G.freq.t())
    assert (feats.float() - exact).abs().max() > 0.5  # bf16 would scramble the features...
    assert (low - ref).abs().mean() < 0.02 * ref.std()  # ...the painter keeps them (unguarded: ~0.1)


# --- per-pixel noise (StyleGAN's noise inputs, keyed by the latent and the canvas position) ---


def test_canvas_noise_is_unit_variance_white_noise_on_the_lattice_and_smooth_between():
    from karyospectrum.networks import canvas_noise, latent_seed

    seed = latent_seed(torch.randn(3, 16))
    origin = torch.tensor([[-3.3, 5.7], [0.0, 0.0], [10.5, -2.25]])
    a = canvas_noise(seed, origin, (40, 60))
    assert abs(float(a.mean())) < 0.05 and abs(float(a.std()) - 1) < 0.05  # at any sub-pixel fraction
    # neighbours on the lattice are uncorrelated (white), and each seed has its own noise
    on = canvas_noise(seed, torch.zeros(3, 2), (40, 60))
    assert abs(float((on[:, :, 1:] * on[:, :, :-1]).mean())) < 0.05
    assert float((a[0] - a[1]).abs().mean()) > 0.5
    assert torch.equal(a, canvas_noise(seed, origin, (40, 60)))  # deterministic
    # the fast path (pixels at the lattice's pitch) equals the general one
    assert torch.allclose(a, canvas_noise(seed, origin, (40, 60), 1.0 + 1e-12), atol=1e-6)
    # a window of the canvas is that window of a larger one: no repetition, no dependence on the frame
    sub = canvas_noise(seed, origin + torch.tensor([4.0, 7.0]), (10, 10))
    assert torch.equal(sub, a[:, 4:14, 7:17])
    # five times finer pixels (a poster) read the same lattice: every 5th pixel is a coarse one
    fine = canvas_noise(seed, origin, (200, 300), 0.2)
    assert torch.allclose(fine[:, ::5, ::5], a, atol=1e-5)
    assert float((fine[:, :, 1:] - fine[:, :, :-1]).abs().mean()) < 0.5 * float(
        (a[:, :, 1:] - a[:, :, :-1]).abs().mean()
    )


def test_latent_seed_is_a_function_of_the_latent():
    from karyospectrum.networks import latent_seed

    z = torch.randn(64, 16)
    s = latent_seed(z)
    assert torch.equal(s, latent_seed(z.clone())) and len(set(s.tolist())) == 64
    assert int(s.min()) >= 0 and int(s.max()) < 2**31
    assert not torch.equal(latent_seed(z.flip(1)), s)  # a permuted latent is another latent
    assert not torch.equal(latent_seed(z + 1e-6), s)


def test_noise_inputs_start_at_zero_and_paint_one_picture_per_latent_at_any_window():
    plain, noisy = _cips(), _cips(noise=True)
    noisy.load_state_dict(
        {**plain.state_dict(), **{k: v for k, v in noisy.state_dict().items() if "noise" in k}}
    )
    z = torch.randn(3, 16)
    with torch.no_grad():
        assert torch.equal(plain(z), noisy(z))  # zero strength: the same painter
        for p in noisy.noise:
            p.fill_(0.05)
        x = noisy(z)
        assert float((x - plain(z)).abs().mean()) > 0.01  # the noise paints
        assert torch.equal(x, noisy(z))  # and a latent still paints one picture
        small, big = noisy(z, size=(32, 32)), noisy(z, size=(64, 96))
    assert torch.allclose(small[:, :, 6:26, 6:26], big[:, :, 22:42, 38:58], atol=1e-5)
    # trained, each window's noise moves with the window (offsets are continuous)
    noisy.train()
    noisy(torch.randn(8, 16)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in noisy.noise)
