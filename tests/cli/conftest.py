import json


def write_mc_task(path, n=12, n_choices=4):
    """A pre-rendered multiple-choice task file over the fixture tokenizer's words."""
    words = ["red", "blue", "green", "cat", "dog", "bird"]
    demo = "Q: the cat is ? A: red\n"
    with path.open("w") as f:
        for i in range(n):
            choices = [f" {words[(i + c) % len(words)]}" for c in range(n_choices)]
            f.write(json.dumps({"id": f"q{i}", "context": demo + f"Q: the {words[i % 6]} is ? A:",
                                "choices": choices, "gold": i % n_choices}) + "\n")
    return path
