"""The canonical transcript (SPEC §4): building it from engine output, assigning speakers,
reading legacy stored forms, and rendering exports (txt, srt, vtt, json)."""
