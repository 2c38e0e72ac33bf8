from pathlib import Path

from civicquant.config import DEFAULT_JOB_INTERVALS, Settings
from civicquant.ops import crontab
from civicquant.publish.routes import default_routes


def test_rendered_crontab_has_absolute_paths_and_no_placeholders(tmp_path: Path) -> None:
    text = crontab.render(
        env_file=Path("cq.env"), log_dir=tmp_path / "logs", textfile=tmp_path / "cq.prom"
    )
    assert "{" not in text
    assert f"CIVICQUANT_ENV_FILE={Path('cq.env').absolute()}" in text
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" not in line.split()[0]:
            fields = line.split()
            assert len(fields) > 6, line
            assert Path(fields[5]).is_absolute(), line


def test_crontab_schedules_every_monitored_job(tmp_path: Path) -> None:
    text = crontab.render(env_file=Path("e"), log_dir=tmp_path, textfile=tmp_path / "p")
    text = text.replace(str(crontab.executable()), "{civicquant}")
    assert "listen --duration" in text
    assert "extract --max-runtime" in text
    for job in {**DEFAULT_JOB_INTERVALS, **default_routes(Settings()).job_intervals()}:
        if job.startswith("digest:"):
            assert f"digest --queue {job.split(':')[1]}" in text
        else:
            assert f"}} {job}" in text
