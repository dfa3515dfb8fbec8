"""The embedded default dataset: a seeded synthetic KG recommendation dataset with planted structure.

How it is generated (everything from one ``numpy.random.default_rng(seed)``):

1. ``num_topics`` latent topics. Each genre, creator and studio entity belongs to one topic;
   creators work for a studio of their own topic (entity-entity triples ``creator works_for
   studio``), so part of the signal is two hops away from the item.
2. Each item draws a main topic, one or two genres (mostly from its topic), and one creator of
   its topic. Its latent vector is a mix of its topic and its genres' topics plus noise: the KG
   attributes carry real signal, which is what KG encoders and cold start need to find.
3. Each user has a Dirichlet taste over topics; an age-group attribute is correlated with their
   top topic (a user attribute link).
4. Item popularity is long-tailed (Zipf-like log bias); a user's interactions are drawn without
   replacement with probability proportional to ``exp(affinity / temperature + log pop)``
   (Gumbel top-k), with a per-user count from a log-normal distribution. Ratings (1-5) grow
   with affinity; timestamps increase per user.

Same arguments, same dataset: the tests check it byte for byte via :meth:`RecDataset.checksum`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kgrec.data.dataset import RecDataset


def make_synthetic(
    *,
    num_users: int = 1000,
    num_items: int = 1200,
    num_topics: int = 8,
    genres_per_topic: int = 3,
    creators_per_topic: int = 12,
    studios_per_topic: int = 2,
    mean_interactions: float = 30.0,
    temperature: float = 0.15,
    popularity_exponent: float = 0.4,
    seed: int = 2026,
) -> RecDataset:
    """Generate the synthetic dataset (see the module docstring for the planted structure).

    Defaults give about 30K interactions over 1,000 users and 1,200 items, small enough for the
    README's main job to train and evaluate several models in a couple of minutes on 2 cores.
    """
    if min(num_users, num_items, num_topics) < 1:
        raise ValueError("num_users, num_items and num_topics must be positive")
    rng = np.random.default_rng(seed)
    t = num_topics

    # --- KG entities and their topics
    genre_topic = np.repeat(np.arange(t), genres_per_topic)
    creator_topic = np.repeat(np.arange(t), creators_per_topic)
    studio_topic = np.repeat(np.arange(t), studios_per_topic)
    creator_studio = np.array(
        [rng.choice(np.flatnonzero(studio_topic == ct)) for ct in creator_topic], dtype=np.int64
    )

    # --- items: topic, genres (mostly on-topic), one creator of the topic
    item_topic = rng.integers(0, t, size=num_items)
    first_genre = item_topic * genres_per_topic + rng.integers(0, genres_per_topic, size=num_items)
    off_topic = rng.random(num_items) < 0.15
    first_genre[off_topic] = rng.integers(0, len(genre_topic), size=int(off_topic.sum()))
    has_second = rng.random(num_items) < 0.5
    second_genre = rng.integers(0, len(genre_topic), size=num_items)
    item_creator = item_topic * creators_per_topic + rng.integers(0, creators_per_topic, size=num_items)

    topic_vec = np.eye(t)
    item_vec = (
        0.6 * topic_vec[item_topic]
        + 0.25 * topic_vec[genre_topic[first_genre]]
        + 0.15 * np.where(has_second[:, None], topic_vec[genre_topic[second_genre]], topic_vec[item_topic])
        + 0.05 * rng.standard_normal((num_items, t))
    )

    # --- users: taste over topics, age group tied to the favourite topic
    taste = rng.dirichlet(np.full(t, 0.3), size=num_users)
    age_groups = np.array(["18-24", "25-34", "35-44", "45+"])
    fav = taste.argmax(axis=1)
    age = np.where(rng.random(num_users) < 0.7, age_groups[fav % len(age_groups)], rng.choice(age_groups, num_users))

    # --- interactions: Gumbel top-k over affinity + popularity
    pop_rank = rng.permutation(num_items)
    log_pop = -popularity_exponent * np.log1p(pop_rank)
    affinity = taste @ item_vec.T  # [U, I]
    logits = affinity / temperature + log_pop
    counts = np.clip(
        np.round(rng.lognormal(np.log(mean_interactions) - 0.3, 0.6, size=num_users)), 5, num_items // 2
    ).astype(np.int64)
    gumbel = rng.gumbel(size=(num_users, num_items))
    order = np.argsort(-(logits + gumbel), axis=1)
    keep = np.arange(num_items)[None, :] < counts[:, None]
    users = np.repeat(np.arange(num_users), counts)
    items = order[keep]
    aff = affinity[users, items]
    z = (aff - aff.mean()) / (aff.std() + 1e-12)
    rating = np.clip(np.round(3.5 + 1.0 * z + 0.7 * rng.standard_normal(len(z))), 1, 5)
    start = rng.integers(1_500_000_000, 1_600_000_000, size=num_users)
    timestamp = start[users] + np.cumsum(rng.integers(60, 86_400, size=len(users)))

    user_ids = np.array([f"u{u:05d}" for u in range(num_users)])
    item_ids = np.array([f"i{i:05d}" for i in range(num_items)])
    interactions = pd.DataFrame(
        {"user": user_ids[users], "item": item_ids[items], "rating": rating, "timestamp": timestamp.astype(np.float64)}
    )

    item_entity = pd.DataFrame({"item": item_ids, "entity": [f"e:item:{i}" for i in range(num_items)]})
    genre_name = np.array([f"e:genre:{g}" for g in range(len(genre_topic))])
    creator_name = np.array([f"e:creator:{c}" for c in range(len(creator_topic))])
    studio_name = np.array([f"e:studio:{s}" for s in range(len(studio_topic))])
    item_entity_name = item_entity["entity"].to_numpy()
    triples = pd.concat(
        [
            pd.DataFrame({"head": item_entity_name, "relation": "has_genre", "tail": genre_name[first_genre]}),
            pd.DataFrame(
                {
                    "head": item_entity_name[has_second],
                    "relation": "has_genre",
                    "tail": genre_name[second_genre[has_second]],
                }
            ),
            pd.DataFrame({"head": item_entity_name, "relation": "created_by", "tail": creator_name[item_creator]}),
            pd.DataFrame({"head": creator_name, "relation": "works_for", "tail": studio_name[creator_studio]}),
        ],
        ignore_index=True,
    ).drop_duplicates(ignore_index=True)
    user_attributes = pd.DataFrame({"user": user_ids, "age": age})
    return RecDataset.from_frames(
        interactions,
        item_entities=item_entity,
        triples=triples,
        user_attributes=user_attributes,
        items=item_ids.tolist(),
        source="synthetic",
        name=f"synthetic-{seed}",
    )
