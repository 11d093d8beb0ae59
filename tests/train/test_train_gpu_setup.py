"""The GPU install: `[gpu]` holds nothing pip must build in isolation; setup.sh --gpu stops clearly without CUDA."""
import shutil
import subprocess

from setuptools.config.setupcfg import read_configuration

from train_helpers import REPO


def test_the_gpu_extra_installs_with_plain_pip():
    """flash-attn's setup.py imports torch, absent from pip's isolated build: it cannot be an extra."""
    extras = read_configuration(str(REPO / "setup.cfg"))["options"]["extras_require"]
    assert extras["gpu"], "the [gpu] extra still carries flash-attn's build tools"
    assert not [r for r in extras["gpu"] if r.lower().replace("_", "-").startswith("flash-attn")]
    script = (REPO / "scripts" / "setup.sh").read_text()
    assert '"flash-attn>=2.6" --no-build-isolation' in script


def run_setup(tmp_path, *args, env=None):
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    return subprocess.run(["bash", str(tmp_path / "scripts" / "setup.sh"), *args], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_setup_gpu_without_cuda_says_so_before_installing_anything(tmp_path):
    proc = run_setup(tmp_path, "--gpu", env={"NVIDIA_SMI": str(tmp_path / "no-nvidia-smi")})
    assert proc.returncode == 3
    assert "setup.sh --gpu: no CUDA GPU here" in proc.stderr and "plain scripts/setup.sh" in proc.stderr
    assert not (tmp_path / ".venv").exists()  # nothing was installed


def test_setup_refuses_an_unknown_argument(tmp_path):
    proc = run_setup(tmp_path, "--gpus")
    assert proc.returncode == 2 and "unknown argument --gpus" in proc.stderr
    assert not (tmp_path / ".venv").exists()
