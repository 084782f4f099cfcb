"""Real transcription with the bundled whisper-tiny.en on the real fixtures."""

from __future__ import annotations

import random
import re
from pathlib import Path

import jiwer
import numpy as np
import pytest

from scriberr.engine.base import (
    AudioDecodeError,
    CancelToken,
    InvalidOptionsError,
    JobCanceled,
    PreparedAudio,
    TranscriptionOptions,
    TranscriptionOutput,
)
from scriberr.engine.local import LocalProvider

from .conftest import JFK, JFK_REFERENCE
from .media import encode, read_audio, write_wav

pytestmark = [pytest.mark.engine, pytest.mark.slow]

TINY = TranscriptionOptions(model="whisper-tiny.en")


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def transcribe(provider: LocalProvider, audio: PreparedAudio) -> TranscriptionOutput:
    return provider.transcribe(audio, TINY, lambda _fraction: None, CancelToken())


def test_jfk_matches_the_reference_with_word_timestamps(
    provider: LocalProvider, jfk_audio: PreparedAudio
) -> None:
    seen: list[float] = []
    output = provider.transcribe(jfk_audio, TINY, seen.append, CancelToken())

    assert jiwer.wer(normalise(JFK_REFERENCE), normalise(output.text)) <= 0.10
    assert output.language == "en"
    assert output.duration == pytest.approx(11.0, abs=0.05)
    assert output.model == "whisper-tiny.en"
    assert output.words and all(word.word for word in output.words)
    starts = [word.start for word in output.words]
    assert starts == sorted(starts)
    assert all(0.0 <= w.start <= w.end <= output.duration for w in output.words)
    assert seen and seen == sorted(seen) and all(0.0 <= f <= 1.0 for f in seen)


@pytest.fixture(scope="module")
def jfk_samples() -> np.ndarray:
    return read_audio(JFK)


@pytest.fixture(scope="module")
def wav_text(provider: LocalProvider, jfk_samples: np.ndarray, scratch: Path) -> str:
    source = write_wav(jfk_samples, scratch / "jfk-pcm.wav")
    audio = provider.prepare_audio(source, scratch / "jfk-pcm-prepared.wav", CancelToken())
    return normalise(transcribe(provider, audio).text)


@pytest.mark.parametrize(
    ("name", "codec", "rate", "video"),
    [
        ("clip.mp3", "libmp3lame", 16000, False),
        ("clip.m4a", "aac", 16000, False),
        ("clip.mp4", "aac", 16000, True),
        ("clip.ogg", "libopus", 48000, False),
        ("clip.mkv", "libopus", 48000, True),
    ],
)
def test_compressed_and_video_containers_give_the_same_text_as_wav(
    provider: LocalProvider,
    jfk_samples: np.ndarray,
    wav_text: str,
    tmp_path: Path,
    name: str,
    codec: str,
    rate: int,
    video: bool,
) -> None:
    source = encode(jfk_samples, tmp_path / name, codec, rate=rate, video=video)
    audio = provider.prepare_audio(source, tmp_path / "prepared.wav", CancelToken())
    assert audio.duration == pytest.approx(11.0, abs=0.1)
    assert normalise(transcribe(provider, audio).text) == wav_text


def test_silent_input_completes_with_an_empty_transcript(
    provider: LocalProvider, tmp_path: Path
) -> None:
    source = write_wav(np.zeros(16000 * 5, dtype=np.float32), tmp_path / "silence.wav")
    audio = provider.prepare_audio(source, tmp_path / "prepared.wav", CancelToken())
    output = transcribe(provider, audio)
    assert audio.duration == pytest.approx(5.0)
    assert output.text == "" and output.words == () and output.segments == ()


@pytest.mark.parametrize(
    "content", [b"", b"this is not audio at all\n" * 100, b"RIFF\x00\x00\x00\x00WAVEfmt junk"]
)
def test_undecodable_input_fails_with_a_clean_message(
    provider: LocalProvider, tmp_path: Path, content: bytes
) -> None:
    source = tmp_path / "upload.mp3"
    source.write_bytes(content)
    with pytest.raises(AudioDecodeError) as caught:
        provider.prepare_audio(source, tmp_path / "prepared.wav", CancelToken())
    message = caught.value.public_message
    assert "decoded" in message
    assert str(tmp_path) not in message and "/" not in message and "\n" not in message
    assert not (tmp_path / "prepared.wav").exists()


def test_damaged_mp3_fails_cleanly_while_a_few_bad_frames_are_skipped(
    provider: LocalProvider, tmp_path: Path
) -> None:
    intact = encode(read_audio(JFK), tmp_path / "jfk.mp3", "mp3").read_bytes()
    noise = random.Random(7)

    def damaged(start: int, length: int) -> Path:
        data = bytearray(intact)
        for index in range(start, min(start + length, len(data))):
            data[index] = noise.randrange(256)
        path = tmp_path / f"damaged-{start}-{length}.mp3"
        path.write_bytes(bytes(data))
        return path

    # Everything after the first 4 KB is noise: the header probes fine, the audio does not decode.
    with pytest.raises(AudioDecodeError) as caught:
        provider.prepare_audio(damaged(4096, len(intact)), tmp_path / "bad.wav", CancelToken())
    assert (
        caught.value.public_message == "the file is damaged: most of its audio could not be decoded"
    )
    assert not list(tmp_path.glob("bad.wav*"))

    # A short burst of noise costs a few frames, not the file.
    glitch = provider.prepare_audio(damaged(8000, 600), tmp_path / "glitch.wav", CancelToken())
    assert glitch.duration > 0.5 * 11.0


def test_video_without_an_audio_track_is_rejected(provider: LocalProvider, tmp_path: Path) -> None:
    import av

    source = tmp_path / "silent-film.mp4"
    with av.open(str(source), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(AudioDecodeError, match="no audio track"):
        provider.prepare_audio(source, tmp_path / "prepared.wav", CancelToken())


def test_translate_and_foreign_languages_are_refused_by_english_only_models(
    provider: LocalProvider, jfk_audio: PreparedAudio
) -> None:
    for options in (
        TranscriptionOptions(model="whisper-tiny.en", task="translate"),
        TranscriptionOptions(model="whisper-tiny.en", language="de"),
    ):
        with pytest.raises(InvalidOptionsError, match=r"whisper-tiny\.en"):
            provider.transcribe(jfk_audio, options, lambda _f: None, CancelToken())


def test_an_already_canceled_job_does_not_start(
    provider: LocalProvider, jfk_audio: PreparedAudio
) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCanceled):
        provider.transcribe(jfk_audio, TINY, lambda _f: None, token)
