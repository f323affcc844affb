//! Model listing and introspection: `/v1/models`, `/v1/models/{id}`,
//! `/model/info`, `/v2/model/info`, `/model_group/info`. Wildcard routes are
//! expanded to the catalog's known models of their provider.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Map, Value, json};
use tianji_core::catalog::{self, CatalogModel};
use tianji_core::{ErrorKind, GatewayError};
use tianji_router::Deployment;
use tianji_router::deployment::match_wildcard;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// `created` for listed models (LiteLLM reports a constant too).
const CREATED: u64 = 1_677_610_602;

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "openai"})
}

/// Public names a wildcard deployment serves among the catalog's models.
fn expand(d: &Deployment) -> Vec<(String, &'static CatalogModel)> {
    let providers: Vec<&str> =
        if d.provider_name == "any" { catalog::MODELS.iter().map(|m| m.provider).collect() } else { vec![d.provider_name.as_str()] };
    let mut out = Vec::new();
    for provider in providers {
        for m in catalog::of_provider(provider) {
            let concrete = format!("{}/{}", m.provider, m.name);
            let captured = if d.params.model == "*" { Some(concrete.as_str()) } else { match_wildcard(&d.params.model, &concrete) };
            if let Some(c) = captured {
                let public = d.model_name.replacen('*', c, 1);
                if !out.iter().any(|(p, _)| *p == public) {
                    out.push((public, m));
                }
            }
        }
    }
    out
}

/// Every public model name, in config order, without duplicates.
fn public_names(state: &AppState) -> Vec<String> {
    let r = state.router.load();
    let mut names: Vec<String> = r.group_names().to_vec();
    let mut aliases: Vec<&String> = r.aliases().iter().filter(|(_, a)| !a.hidden).map(|(k, _)| k).collect();
    aliases.sort();
    names.extend(aliases.into_iter().cloned());
    for (_, deployments) in r.wildcard_routes() {
        for d in deployments {
            for (public, _) in expand(d) {
                if !names.contains(&public) {
                    names.push(public);
                }
            }
        }
    }
    names
}

/// `GET /v1/models`.
pub async fn list(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let data: Vec<Value> = public_names(&state).iter().map(|n| model_object(n)).collect();
    Json(json!({"object": "list", "data": data}))
}

/// `GET /v1/models/{id}`.
pub async fn retrieve(State(state): State<AppState>, _caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if state.router.load().resolve(&id).is_some() {
        Ok(Json(model_object(&id)))
    } else {
        Err(GatewayError::new(ErrorKind::NotFound, format!("The model '{id}' does not exist")).with_code("model_not_found").into())
    }
}

fn params_json(d: &Deployment) -> Value {
    let p = &d.params;
    let mut m = Map::new();
    m.insert("model".into(), json!(p.model));
    let optional = [
        ("api_base", p.api_base.clone().map(Value::from)),
        ("api_version", p.api_version.clone().map(Value::from)),
        ("organization", p.organization.clone().map(Value::from)),
        ("region_name", p.region_name.clone().map(Value::from)),
        ("custom_llm_provider", p.custom_llm_provider.clone().map(Value::from)),
        ("rpm", p.rpm.map(Value::from)),
        ("tpm", p.tpm.map(Value::from)),
        ("timeout", p.timeout.map(Value::from)),
        ("stream_timeout", p.stream_timeout.map(Value::from)),
        ("max_retries", p.max_retries.map(Value::from)),
        ("weight", p.weight.map(Value::from)),
        ("mock_response", p.mock_response.clone()),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    }
    for (k, v) in &p.default_params {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn upstream_name(d: &Deployment) -> &str {
    d.params.model.split_once('/').map(|(_, n)| n).unwrap_or(&d.params.model)
}

fn info_json(d: &Deployment, catalog_entry: Option<&CatalogModel>) -> Value {
    let i = &d.info;
    let c = catalog_entry.or_else(|| catalog::lookup(&d.provider_name, i.base_model.as_deref().unwrap_or(upstream_name(d))));
    let mut m = i.extra.clone();
    m.insert("id".into(), json!(d.id));
    m.entry("db_model").or_insert(json!(false));
    m.insert("key".into(), json!(upstream_name(d)));
    m.insert("litellm_provider".into(), json!(d.provider_name));
    m.insert("mode".into(), json!(i.mode.as_deref().or(c.map(|c| c.mode)).unwrap_or("chat")));
    m.insert("max_input_tokens".into(), json!(i.max_input_tokens.or(c.map(|c| c.max_input_tokens))));
    m.insert("max_output_tokens".into(), json!(i.max_output_tokens.or(c.map(|c| c.max_output_tokens))));
    m.insert("max_tokens".into(), json!(i.max_tokens.or(i.max_output_tokens).or(c.map(|c| c.max_output_tokens))));
    m.insert("input_cost_per_token".into(), json!(i.input_cost_per_token.or(c.map(|c| c.input_cost_per_token))));
    m.insert("output_cost_per_token".into(), json!(i.output_cost_per_token.or(c.map(|c| c.output_cost_per_token))));
    if let Some(b) = &i.base_model {
        m.insert("base_model".into(), json!(b));
    }
    Value::Object(m)
}

/// Filters for `/model/info`.
#[derive(Debug, serde::Deserialize)]
pub struct InfoQuery {
    /// Only this model group.
    model: Option<String>,
    /// Only this deployment.
    litellm_model_id: Option<String>,
}

fn model_info_rows(state: &AppState, q: &InfoQuery) -> Vec<Value> {
    state
        .router
        .load()
        .deployments()
        .filter(|d| q.model.as_ref().is_none_or(|m| *m == d.model_name))
        .filter(|d| q.litellm_model_id.as_ref().is_none_or(|id| *id == d.id))
        .map(|d| json!({"model_name": d.model_name, "litellm_params": params_json(d), "model_info": info_json(d, None)}))
        .collect()
}

/// `GET /model/info`: every deployment, without secrets.
pub async fn model_info(State(state): State<AppState>, _caller: Caller, Query(q): Query<InfoQuery>) -> Json<Value> {
    Json(json!({"data": model_info_rows(&state, &q)}))
}

/// `GET /v2/model/info`: the same rows with a count.
pub async fn model_info_v2(State(state): State<AppState>, _caller: Caller, Query(q): Query<InfoQuery>) -> Json<Value> {
    let rows = model_info_rows(&state, &q);
    Json(json!({"total_count": rows.len(), "data": rows}))
}

/// Filter for `/model_group/info`.
#[derive(Debug, serde::Deserialize)]
pub struct GroupQuery {
    /// Only this group.
    model_group: Option<String>,
}

#[derive(Default, Clone)]
struct GroupAgg {
    providers: Vec<String>,
    max_input_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    mode: Option<String>,
    tpm: Option<u64>,
    rpm: Option<u64>,
}

impl GroupAgg {
    fn add(&mut self, d: &Deployment, info: &Value) {
        if !self.providers.contains(&d.provider_name) {
            self.providers.push(d.provider_name.clone());
        }
        let u = |k: &str| info.get(k).and_then(Value::as_u64);
        let f = |k: &str| info.get(k).and_then(Value::as_f64);
        self.max_input_tokens = self.max_input_tokens.max(u("max_input_tokens"));
        self.max_output_tokens = self.max_output_tokens.max(u("max_output_tokens"));
        self.input_cost_per_token = self.input_cost_per_token.or(f("input_cost_per_token"));
        self.output_cost_per_token = self.output_cost_per_token.or(f("output_cost_per_token"));
        if self.mode.is_none() {
            self.mode = info.get("mode").and_then(Value::as_str).map(str::to_owned);
        }
        if let Some(t) = d.params.tpm {
            self.tpm = Some(self.tpm.unwrap_or(0) + t);
        }
        if let Some(r) = d.params.rpm {
            self.rpm = Some(self.rpm.unwrap_or(0) + r);
        }
    }

    fn to_json(&self, group: &str) -> Value {
        json!({
            "model_group": group,
            "providers": self.providers,
            "max_input_tokens": self.max_input_tokens,
            "max_output_tokens": self.max_output_tokens,
            "input_cost_per_token": self.input_cost_per_token,
            "output_cost_per_token": self.output_cost_per_token,
            "mode": self.mode,
            "tpm": self.tpm,
            "rpm": self.rpm,
        })
    }
}

/// `GET /model_group/info`: one row per public group, wildcards expanded.
pub async fn model_group_info(State(state): State<AppState>, _caller: Caller, Query(q): Query<GroupQuery>) -> Json<Value> {
    let r = state.router.load();
    let mut groups: BTreeMap<usize, (String, GroupAgg)> = BTreeMap::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut slot = |name: &str| -> usize {
        let next = index.len();
        *index.entry(name.to_owned()).or_insert(next)
    };
    for name in r.group_names() {
        let i = slot(name);
        let agg = &mut groups.entry(i).or_insert_with(|| (name.clone(), GroupAgg::default())).1;
        for d in r.group(name).unwrap_or_default() {
            agg.add(d, &info_json(d, None));
        }
    }
    for (_, deployments) in r.wildcard_routes() {
        for d in deployments {
            for (public, entry) in expand(d) {
                let i = slot(&public);
                let agg = &mut groups.entry(i).or_insert_with(|| (public.clone(), GroupAgg::default())).1;
                agg.add(d, &info_json(d, Some(entry)));
            }
        }
    }
    // Visible aliases answer like the group they point to.
    let mut aliases: Vec<(&String, &tianji_core::config::AliasTarget)> = r.aliases().iter().filter(|(_, a)| !a.hidden).collect();
    aliases.sort_by_key(|(name, _)| name.as_str());
    for (alias, target) in aliases {
        let agg = groups.values().find(|(name, _)| *name == target.model).map(|(_, agg)| agg.clone());
        if let Some(agg) = agg {
            let i = slot(alias);
            groups.entry(i).or_insert_with(|| (alias.clone(), agg));
        }
    }
    let data: Vec<Value> =
        groups.values().filter(|(name, _)| q.model_group.as_ref().is_none_or(|g| g == name)).map(|(name, agg)| agg.to_json(name)).collect();
    Json(json!({"data": data}))
}
