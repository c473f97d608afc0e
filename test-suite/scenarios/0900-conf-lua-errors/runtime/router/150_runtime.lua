local settings = nil
local domains = settings.domains
