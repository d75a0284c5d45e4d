//! Micro benchmarks of the core: ids, signing, the codecs, typed sessions and
//! the whole open → load → finish path on the memory store.
//!
//! `cargo bench -p session-core --bench core`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use session::codec::{Codec, SerializationFormat};
use session::config::SessionType;
use session::signing::Signer;
use session::store::memory::MemoryStore;
use session::{SessionData, SessionId, SessionManager, SessionMap, Settings};

#[derive(Debug, Default, Clone, SessionData)]
struct Profile {
    user_id: u64,
    name: String,
    email: String,
    admin: bool,
    visits: u32,
    theme: String,
    locale: String,
    cart: Vec<u32>,
    last_page: Option<String>,
    score: f64,
}

fn profile() -> Profile {
    Profile {
        user_id: 4_200_000_017,
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        admin: false,
        visits: 1234,
        theme: "dark".into(),
        locale: "en-GB".into(),
        cart: vec![1, 2, 3, 400, 50_000],
        last_page: Some("/checkout".into()),
        score: 98.5,
    }
}

fn small_map() -> SessionMap {
    let mut map = SessionMap::new();
    map.set_permanent(true);
    map.insert("value", "44").unwrap();
    map
}

/// About 4 KiB: forty 90-character strings and some numbers.
fn large_map() -> SessionMap {
    let mut map = SessionMap::new();
    map.set_permanent(true);
    for i in 0..40 {
        map.insert(&format!("key{i:02}"), &"x".repeat(90)).unwrap();
        map.insert(&format!("n{i:02}"), &(i * 1000)).unwrap();
    }
    map
}

fn ids_and_signing(c: &mut Criterion) {
    c.bench_function("sid/generate_32_bytes", |b| {
        b.iter(|| SessionId::generate(32).unwrap())
    });
    let signer = Signer::new("a-long-enough-secret-key-for-benchmarks", []);
    let id = SessionId::generate(32).unwrap();
    let cookie = signer.sign(&id);
    c.bench_function("signer/sign", |b| b.iter(|| signer.sign(black_box(&id))));
    c.bench_function("signer/verify", |b| {
        b.iter(|| signer.verify(black_box(&cookie)))
    });
    c.bench_function("sid/parse", |b| {
        b.iter(|| SessionId::parse(black_box(id.expose())))
    });
}

fn codecs(c: &mut Criterion) {
    for (format, name) in [
        (SerializationFormat::MsgPack, "msgpack"),
        (SerializationFormat::Json, "json"),
    ] {
        let codec = Codec::new(format, 1 << 20);
        for (map, size) in [(small_map(), "small"), (large_map(), "4KiB")] {
            let bytes = codec.encode(&map).unwrap();
            c.bench_function(&format!("{name}/encode_{size}"), |b| {
                b.iter(|| codec.encode(black_box(&map)).unwrap())
            });
            c.bench_function(&format!("{name}/decode_{size}"), |b| {
                b.iter(|| codec.decode(black_box(&bytes)).unwrap())
            });
        }
    }
}

fn typed_against_untyped(c: &mut Criterion) {
    let mut map = SessionMap::new();
    for (key, raw) in Profile::KEYS.iter().zip(profile().to_fields().unwrap()) {
        map.insert_raw((*key).to_owned(), raw.unwrap());
    }
    c.bench_function("typed/decode_10_fields", |b| {
        b.iter(|| Profile::from_map(black_box(&map)))
    });
    let value = profile();
    c.bench_function("typed/encode_10_fields", |b| {
        b.iter(|| black_box(&value).to_fields().unwrap())
    });
    c.bench_function("untyped/get_10_keys", |b| {
        b.iter(|| {
            let m = black_box(&map);
            (
                m.get::<u64>("user_id").unwrap(),
                m.get::<String>("name").unwrap(),
                m.get::<String>("email").unwrap(),
                m.get::<bool>("admin").unwrap(),
                m.get::<u32>("visits").unwrap(),
                m.get::<String>("theme").unwrap(),
                m.get::<String>("locale").unwrap(),
                m.get::<Vec<u32>>("cart").unwrap(),
                m.get::<Option<String>>("last_page").unwrap(),
                m.get::<f64>("score").unwrap(),
            )
        })
    });
    c.bench_function("untyped/insert_10_keys", |b| {
        b.iter_batched(
            SessionMap::new,
            |mut m| {
                let v = black_box(&value);
                m.insert("user_id", &v.user_id).unwrap();
                m.insert("name", &v.name).unwrap();
                m.insert("email", &v.email).unwrap();
                m.insert("admin", &v.admin).unwrap();
                m.insert("visits", &v.visits).unwrap();
                m.insert("theme", &v.theme).unwrap();
                m.insert("locale", &v.locale).unwrap();
                m.insert("cart", &v.cart).unwrap();
                m.insert("last_page", &v.last_page).unwrap();
                m.insert("score", &v.score).unwrap();
                m
            },
            BatchSize::SmallInput,
        )
    });
}

#[derive(Debug, Default, SessionData)]
struct Visit {
    count: u32,
}

fn lifecycle(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let settings = {
        let mut settings = Settings::default();
        settings.session_type = SessionType::Memory;
        settings
    };
    let manager = SessionManager::new(settings, Arc::new(MemoryStore::new())).unwrap();
    let cookie = runtime.block_on(async {
        let request = manager.open([]);
        request.load().await.unwrap().typed::<Visit>().count = 1;
        let set = request.finish(200).await.unwrap().set_cookie.unwrap();
        set.split(';').next().unwrap().to_owned()
    });
    let header = format!("theme=dark; {cookie}");
    c.bench_function("lifecycle/plain_with_cookie", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = manager.open([header.as_bytes()]);
                request.finish(200).await.unwrap()
            })
        })
    });
    c.bench_function("lifecycle/read", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = manager.open([header.as_bytes()]);
                let count = request.load().await.unwrap().typed::<Visit>().count;
                black_box(count);
                request.finish(200).await.unwrap()
            })
        })
    });
    c.bench_function("lifecycle/incr", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = manager.open([header.as_bytes()]);
                {
                    let mut visit = request.load().await.unwrap().typed::<Visit>();
                    visit.count = visit.count.wrapping_add(1);
                }
                request.finish(200).await.unwrap()
            })
        })
    });
}

criterion_group!(
    benches,
    ids_and_signing,
    codecs,
    typed_against_untyped,
    lifecycle
);
criterion_main!(benches);
