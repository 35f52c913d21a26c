"""A CRM to integrate with: a Salesforce-style SOAP server answering the real Enterprise WSDL."""

from __future__ import annotations

from hub.demo.crm.book import CrmBook, salesforce_id
from hub.demo.crm.config import crm_system
from hub.demo.crm.service import WSDL, CrmSimulator

__all__ = ["WSDL", "CrmBook", "CrmSimulator", "crm_system", "salesforce_id"]
