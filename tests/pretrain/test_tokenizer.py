from ckptlens.pretrain import PretrainConfig
from ckptlens.pretrain.tokenizer import train_word_tokenizer
from ckptlens.world import answer_words, build_world, builtin_tasks, generate_documents


def test_every_answer_is_one_known_token_and_every_context_fits_the_model():
    world = build_world(0)
    tokenizer = train_word_tokenizer([*generate_documents(world, 300), answer_words(world)])
    for task in builtin_tasks(world):
        answers = [c for e in task.examples for c in e.choices] + [e.target for e in task.examples if e.target]
        for answer in set(answers):
            ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
            assert len(ids) == 1 and ids[0] != tokenizer.unk_token_id, (task.name, answer)
        longest = max(len(tokenizer(e.context)["input_ids"]) for e in task.examples)
        assert longest + task.max_new_tokens <= PretrainConfig().context_length


def test_decoding_gives_back_the_exact_text():
    tokenizer = train_word_tokenizer(["Q: What is 3 + 4?\nA: 7\n\nThe capital of Avia is Bost."])
    text = "Q: What is 3 + 4?\nA: 7\n\nThe capital of Avia is Bost."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
