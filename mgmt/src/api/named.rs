//! Config lists whose items have unique names (interfaces, bridges): the
//! add, replace and remove every such resource does alike, with errors
//! rebased onto the request body's fields.

use super::*;

/// A named list of the config, and how to reach it.
pub(super) struct NamedList<T> {
    /// What one item is called in messages ("interface").
    pub kind: &'static str,
    /// The list's field in the config ("interfaces"), for error paths.
    pub field: &'static str,
    pub list: fn(&mut Config) -> &mut Vec<T>,
    pub name: fn(&T) -> &str,
}

impl<T> NamedList<T> {
    fn missing(&self, name: &str) -> ApplyError {
        ApplyError::NotFound(format!("no {} is named '{name}'", self.kind))
    }

    /// Appends `item`; a name already in use is refused.
    pub(super) async fn add(&self, api: &Api, c: &Caller, item: T) -> ApiResult<(StatusCode, Json<Applied>)> {
        let name = (self.name)(&item).to_string();
        let mut at = String::new();
        let r = api
            .ctl
            .change(&c.who(), &format!("add {} {name}", self.kind), |cfg| {
                let list = (self.list)(cfg);
                if list.iter().any(|x| (self.name)(x) == name) {
                    return Err(invalid("name", format!("{} '{name}' exists", self.kind)));
                }
                at = format!("{}[{}]", self.field, list.len());
                list.push(item);
                Ok(())
            })
            .await;
        Ok(created(r.map_err(|e| rebase(e, &at, ""))?))
    }

    /// Replaces the item named `name` (the path's) with `item`, which must
    /// keep the name.
    pub(super) async fn replace(&self, api: &Api, c: &Caller, name: &str, item: T) -> ApiResult<Json<Applied>> {
        let mut at = String::new();
        let r = api
            .ctl
            .change(&c.who(), &format!("replace {} {name}", self.kind), |cfg| {
                if (self.name)(&item) != name {
                    return Err(invalid("name", format!("must be '{name}', the {} in the path", self.kind)));
                }
                let list = (self.list)(cfg);
                let i = list.iter().position(|x| (self.name)(x) == name).ok_or_else(|| self.missing(name))?;
                at = format!("{}[{i}]", self.field);
                list[i] = item;
                Ok(())
            })
            .await;
        Ok(Json(r.map_err(|e| rebase(e, &at, ""))?))
    }

    /// Removes the item named `name`.
    pub(super) async fn remove(&self, api: &Api, c: &Caller, name: &str) -> ApiResult<Json<Applied>> {
        let r = api
            .ctl
            .change(&c.who(), &format!("remove {} {name}", self.kind), |cfg| {
                let removed = remove_all((self.list)(cfg), |x| (self.name)(x) == name);
                found(removed, || format!("no {} is named '{name}'", self.kind))
            })
            .await;
        Ok(Json(r?))
    }
}
