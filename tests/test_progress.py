"""The plain progress lines printed when stderr is a file or a pipe (CI logs, nohup)."""

from ganzoo.train.progress import Progress


def test_plain_lines_carry_step_losses_speed_and_eta(capsys):
    progress = Progress(total=100, start=20)
    assert not progress.live  # pytest captures stderr: no terminal, no live bar
    progress.started = 0.0
    assert progress.eta(20, 5.0) == "-:--:--"  # nothing done yet: no pace to go by
    assert progress.eta(60, 400.0) == "0:06:40"  # 40 steps in 400 s, 40 to go
    assert progress.eta(21, 3600.0) == "79:00:00"  # 1 step an hour, 79 to go
    progress.update(100, 0.5, 1.25, 64.0)
    assert capsys.readouterr().err.strip().startswith(
        "step 100/100  D 0.500  G 1.250  64 img/s  ETA 0:00:00")
