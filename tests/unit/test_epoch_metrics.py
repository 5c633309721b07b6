"""The per-epoch MLflow history survives a kill at any point around a checkpoint: each epoch logged once."""

from types import SimpleNamespace

from lifedl.train.fit import EpochMetricsLogger


class Recorder:
    def __init__(self):
        self.steps: list[int] = []

    def log_metrics(self, metrics, step):
        self.steps.append(step)

    def logged_steps(self, key):
        return set(self.steps)


def _epochs(logger, first, last):
    trainer = SimpleNamespace(current_epoch=0, should_stop=False, max_epochs=100)
    for epoch in range(first, last):
        trainer.current_epoch = epoch
        logger.on_train_epoch_end(trainer, SimpleNamespace(epoch_means={"val/loss": 1.0 / (epoch + 1)}))


def test_a_job_killed_while_sending_a_checkpoints_epochs_resumes_without_losing_or_repeating_one():
    recorder = Recorder()
    killed = EpochMetricsLogger(recorder, print_every=1000)
    _epochs(killed, 0, 10)
    checkpoint: dict = {}
    killed.on_save_checkpoint(None, None, checkpoint)
    assert recorder.steps == []  # nothing is sent before the checkpoint holding it is on disk
    killed.on_train_epoch_start(None, None)
    assert recorder.steps == list(range(10))
    _epochs(killed, 10, 20)
    checkpoint = {}
    killed.on_save_checkpoint(None, None, checkpoint)
    recorder.log_metrics({}, 10)  # killed after sending two of the ten epochs
    recorder.log_metrics({}, 11)
    resumed = EpochMetricsLogger(recorder, print_every=1000)
    resumed.on_load_checkpoint(None, None, checkpoint)  # resumes at epoch 20: sends the eight MLflow lacks
    _epochs(resumed, 20, 25)
    resumed.on_train_end(None, None)
    assert sorted(recorder.steps) == list(range(25))
